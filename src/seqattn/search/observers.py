"""Watching a search without changing it: a callback before every step, and beam-tree recording.

A search calls each observer's methods at fixed points; an observer reads what it is given
and never changes it. `Observer`'s methods do nothing, so an observer overrides only what it
watches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from seqattn.search.hypotheses import TreeNode


@dataclass
class BeamStep:
    """The candidates of one beam-search step, for every block of `k` rows (one sentence each).

    `b` below indexes blocks, `j` a block's 2k best candidates, best first."""

    t: int  # 0-based output position
    sent: list[int]  # the sentence of each block
    alive: list[bool]  # block still searching
    at_limit: list[bool]  # block at its sentence's length limit this step
    full: list[bool]  # block has k finished hypotheses after this step
    scores: torch.Tensor  # (blocks, 2k) cumulative log-probability of each candidate
    origin: torch.Tensor  # (blocks, 2k) the flat row each candidate extends
    token: torch.Tensor  # (blocks, 2k) its token
    pick: torch.Tensor  # (blocks, k) the candidates that continue (indices into j)
    ended: set[tuple[int, int]]  # (b, j) of the candidates finished this step
    weights: torch.Tensor | None  # (rows, src_len) fp32 attention of each row this step
    src_lengths: torch.Tensor  # (batch,)
    k: int
    eos_id: int


class Observer:
    def search_starts(self, rows: int) -> None:
        """Called once with the number of rows (hypotheses) the search starts with."""

    def step_starts(self, t: int) -> None:
        """Called before step `t` (0-based)."""

    def candidates(self, step: BeamStep) -> None:
        """Beam search: called once a step's candidates are ranked and finished ones taken."""

    def rows_kept(self, rows: list[int]) -> None:
        """Beam search: the flat rows that stay once finished sentences leave the batch."""


class EachStep(Observer):
    """Call `fn()` before every step (the server's heavy lane yields to other work there)."""

    def __init__(self, fn: Callable[[], None]):
        self.fn = fn

    def step_starts(self, t: int) -> None:
        self.fn()


class TreeRecorder(Observer):
    """Record every step's 2k best candidates of each sentence as `TreeNode`s in `trees`."""

    def __init__(self, sentences: int):
        self.trees: list[list[TreeNode]] = [[] for _ in range(sentences)]
        self.node_of_row: list[int] = []  # the node each hypothesis row stands at (0: <s>)

    def search_starts(self, rows: int) -> None:
        self.node_of_row = [0] * rows

    def rows_kept(self, rows: list[int]) -> None:
        self.node_of_row = [self.node_of_row[r] for r in rows]

    def candidates(self, s: BeamStep) -> None:
        """A candidate is 'kept' only if its sentence goes on (not full of finished ones, not
        at its length limit)."""
        scores, origins = s.scores.tolist(), s.origin.tolist()
        tokens, picks = s.token.tolist(), s.pick.tolist()
        new_rows = [0] * (len(s.sent) * s.k)
        for b, sid in enumerate(s.sent):
            if not s.alive[b]:
                continue
            tree, ids = self.trees[sid], {}
            for j, score in enumerate(scores[b]):
                if not np.isfinite(score):
                    continue
                row = origins[b][j]
                status = "finished" if (b, j) in s.ended else "pruned"
                if j in picks[b] and tokens[b][j] != s.eos_id and not (s.at_limit[b] or s.full[b]):
                    status = "kept"
                weights = None
                if s.weights is not None:
                    weights = s.weights[row, : int(s.src_lengths[sid])].cpu().numpy()
                ids[j] = len(tree) + 1  # (node 0 is the start)
                parent = self.node_of_row[row]
                tree.append(TreeNode(ids[j], parent, s.t, tokens[b][j], score, status, weights))
            for i, j in enumerate(picks[b]):
                new_rows[b * s.k + i] = ids.get(j, 0)
        self.node_of_row = new_rows
