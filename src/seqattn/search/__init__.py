"""Searching for outputs over a model's step function, batched across sentences.

The encoder runs once per batch and attention keys are projected once; each step advances
every live hypothesis of every sentence in one call, and finished sentences leave the
batch. `GreedySearch` and `BeamSearch` return, per sentence, hypotheses with token ids (EOS
included when produced), a score and the attention matrix (target steps x source
positions); observers watch a search step by step (`EachStep`, `TreeRecorder`).
`SampleSearch` draws outputs instead (`search.sampling`); a forced prefix starts every
search's outputs (`search.prefix`). `forced_scores` runs the same step function along given
targets; `EnsembleStepper` makes several models one Stepper.
"""

from seqattn.search.beam import BeamSearch
from seqattn.search.ensemble import EnsembleStepper
from seqattn.search.forced import forced_scores
from seqattn.search.greedy import GreedySearch, Search
from seqattn.search.hypotheses import Forced, Hypothesis, TreeNode, length_penalty
from seqattn.search.observers import BeamStep, EachStep, Observer, TreeRecorder
from seqattn.search.rows import max_lengths
from seqattn.search.sampling import SampleSearch, draw_tokens, sentence_seed
from seqattn.search.stepper import Stepper, TorchStepper, as_stepper

__all__ = ["BeamSearch", "BeamStep", "EachStep", "EnsembleStepper", "Forced", "GreedySearch", "Hypothesis",
           "Observer", "SampleSearch", "Search", "Stepper", "TorchStepper", "TreeNode", "TreeRecorder",
           "as_stepper", "draw_tokens", "forced_scores", "length_penalty", "max_lengths", "sentence_seed"]
