"""Length-bucketed, padded batches with a seeded, resumable order.

Sources carry a trailing EOS; targets are split into the decoder input (SOS + y) and the
output to predict (y + EOS). Padding uses PAD_ID everywhere, and lengths give the masks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID


@dataclass
class Batch:
    src: torch.Tensor  # (batch, src_len) token ids, EOS-terminated, PAD-padded
    src_lengths: torch.Tensor  # (batch,) true lengths incl. EOS
    tgt_in: torch.Tensor | None  # (batch, tgt_len) SOS + y
    tgt_out: torch.Tensor | None  # (batch, tgt_len) y + EOS
    indices: list[int]  # positions of these pairs in their corpus

    @property
    def n_tokens(self) -> int:
        """Target tokens to predict (non-pad, EOS included)."""
        return int((self.tgt_out != PAD_ID).sum()) if self.tgt_out is not None else 0

    def to(self, device: torch.device | str) -> Batch:
        move = lambda t: None if t is None else t.to(device, non_blocking=True)  # noqa: E731
        return Batch(move(self.src), self.src_lengths, move(self.tgt_in), move(self.tgt_out),
                     self.indices)


def _pad(seqs: Sequence[Sequence[int]], prefix: list[int], suffix: list[int]) -> torch.Tensor:
    width = max(len(s) for s in seqs) + len(prefix) + len(suffix)
    out = torch.full((len(seqs), width), PAD_ID, dtype=torch.long)
    for row, seq in enumerate(seqs):
        full = [*prefix, *seq, *suffix]
        out[row, : len(full)] = torch.as_tensor(full, dtype=torch.long)
    return out


def make_batch(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]] | None,
               indices: Sequence[int]) -> Batch:
    """Pad one batch. `src`/`tgt` are subword ids without specials."""
    src_t = _pad(src, [], [EOS_ID])
    lengths = torch.as_tensor([len(s) + 1 for s in src], dtype=torch.long)
    tgt_in = _pad(tgt, [SOS_ID], []) if tgt is not None else None
    tgt_out = _pad(tgt, [], [EOS_ID]) if tgt is not None else None
    return Batch(src_t, lengths, tgt_in, tgt_out, list(indices))


class BucketBatcher:
    """Groups pairs of similar length into batches under a sentence or token budget.

    The order of epoch `e` depends only on (seed, e), so a resumed run can replay it.
    """

    def __init__(self, src_lens: Sequence[int], tgt_lens: Sequence[int], batch_size: int,
                 batch_tokens: int | None, seed: int, pool_batches: int = 50):
        self.src_lens = np.asarray(src_lens, dtype=np.int64) + 1
        self.tgt_lens = np.asarray(tgt_lens, dtype=np.int64) + 1
        self.batch_size, self.batch_tokens = batch_size, batch_tokens
        self.seed, self.pool_batches = seed, pool_batches

    def _cut(self, order: np.ndarray) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order.tolist():
            width = max(longest, int(self.src_lens[i]), int(self.tgt_lens[i]))
            full = (
                width * (len(current) + 1) > self.batch_tokens
                if self.batch_tokens
                else len(current) >= self.batch_size
            )
            if current and full:
                batches.append(current)
                current, width = [], max(int(self.src_lens[i]), int(self.tgt_lens[i]))
            current.append(i)
            longest = width
        if current:
            batches.append(current)
        return batches

    def epoch(self, epoch: int) -> list[list[int]]:
        """The batches (lists of pair indices) of one epoch, in training order."""
        rng = np.random.default_rng([self.seed, epoch])
        perm = rng.permutation(len(self.src_lens))
        pool = self.pool_batches * (self.batch_size if not self.batch_tokens
                                    else max(1, self.batch_tokens // 20))
        batches: list[list[int]] = []
        for start in range(0, len(perm), pool):
            chunk = perm[start : start + pool]
            keys = np.lexsort((self.tgt_lens[chunk], self.src_lens[chunk]))
            batches.extend(self._cut(chunk[keys]))
        rng.shuffle(batches)
        return batches
