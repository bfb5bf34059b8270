"""Attributions beside attention: how much each source token matters to each output token, by
attention, saliency, input x gradient, integrated gradients or occlusion (Captum where it fits),
optionally contrastive ("this token rather than that one").

`attribute_ids` works on one model and subword ids (the studies' entry); `attribute` on a
translator and text (the CLI's, the server's and notebooks'); both compute with the fp32
weights in eval mode and leave the model as they found it.
"""

from seqattn.attribution.checks import MAX_STEPS, METHODS, SUMMARIES, AttributionError
from seqattn.attribution.methods import attribute_ids, row_objectives
from seqattn.attribution.result import Attribution, word_units
from seqattn.attribution.text import BASELINE, attribute

__all__ = ["BASELINE", "MAX_STEPS", "METHODS", "SUMMARIES", "Attribution", "AttributionError", "attribute",
           "attribute_ids", "row_objectives", "word_units"]
