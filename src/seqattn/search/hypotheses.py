"""The hypotheses a search returns live in `seqattn.hypotheses` (torch-free, shared with the
runtime of exported models); the names stay importable from here."""

from seqattn.hypotheses import Forced, Hypothesis, TreeNode, length_penalty

__all__ = ["Forced", "Hypothesis", "TreeNode", "length_penalty"]
