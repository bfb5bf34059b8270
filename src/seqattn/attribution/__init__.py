"""Attributions beside attention: how much each source token matters to each output token, by
attention, saliency, input x gradient, integrated gradients or occlusion (Captum where it fits),
optionally contrastive ("this token rather than that one").

`attribute_ids` works on one model and subword ids (the studies' entry); `attribute` on a
translator and text (the CLI's, the server's and notebooks'); both compute with the fp32
weights in eval mode and leave the model as they found it.
"""

from seqattn.attribution.checks import (
    MAX_STEPS,
    METHODS,
    SUMMARIES,
    AttributionError,
    check_method,
    check_steps,
)
from seqattn.attribution.methods import attribute_ids, row_objectives
from seqattn.attribution.result import Attribution, word_units
from seqattn.attribution.text import BASELINE, attribute, greedy_ids, torch_model

__all__ = ["BASELINE", "MAX_STEPS", "METHODS", "SUMMARIES", "Attribution", "AttributionError", "attribute",
           "attribute_ids", "check_method", "check_steps", "greedy_ids", "row_objectives", "torch_model",
           "word_units"]
