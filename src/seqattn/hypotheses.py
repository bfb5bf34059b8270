"""What a search returns: hypotheses, the candidates of a beam's tree, forced targets.

NumPy only (no torch): the searches of `seqattn.search` and of the torch-free runtime
(`seqattn.deploy`) both return these, and `seqattn.results` holds them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Hypothesis:
    tokens: list[int]  # output ids, EOS last when the search produced it
    score: float  # log-probability (greedy) or length-normalised log-probability (beam)
    attention: np.ndarray | None  # (len(tokens), src_len) weights, None without attention


@dataclass
class TreeNode:
    """One candidate of a beam-search step: a hypothesis extended by `token`."""

    id: int
    parent: int  # the node it extends (0: the start, <s>)
    step: int  # 0-based output position
    token: int
    score: float  # cumulative log-probability
    status: str  # "kept" (among the beam continuing), "finished" (ended; EOS or the limit), "pruned"
    attention: np.ndarray | None  # (src_len,) the weights the parent attended with at this step


@dataclass
class Forced:
    """A target forced through the decoder: its tokens (EOS last), the log-probability of each,
    and the attention of each step."""

    tokens: list[int]
    logprobs: list[float]
    attention: np.ndarray | None  # (len(tokens), src_len)


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ((5 + length) / 6) ** alpha; alpha 0 gives raw log-probabilities."""
    return ((5.0 + length) / 6.0) ** alpha
