"""Length-bucketed, padded batches with a seeded, resumable order.

Sources carry a trailing EOS; targets are split into the decoder input (SOS + y) and the
output to predict (y + EOS). Padding uses PAD_ID everywhere, and lengths give the masks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID

GROUP_PAIRS = 1 << 18  # pairs sorted at once when planning an epoch (bounds temporary memory)


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
    """Rows of prefix + seq + suffix, PAD-padded. Rows may be lists or NumPy arrays."""
    start = len(prefix)
    out = np.full((len(seqs), max(len(s) for s in seqs) + start + len(suffix)), PAD_ID, dtype=np.int64)
    out[:, :start] = prefix
    for row, seq in enumerate(seqs):
        end = start + len(seq)
        out[row, start:end] = seq
        out[row, end : end + len(suffix)] = suffix
    return torch.from_numpy(out)


def make_batch(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]] | None,
               indices: Sequence[int]) -> Batch:
    """Pad one batch. `src`/`tgt` are subword ids without specials (lists or NumPy arrays)."""
    src_t = _pad(src, [], [EOS_ID])
    lengths = torch.as_tensor([len(s) + 1 for s in src], dtype=torch.long)
    tgt_in = _pad(tgt, [SOS_ID], []) if tgt is not None else None
    tgt_out = _pad(tgt, [], [EOS_ID]) if tgt is not None else None
    return Batch(src_t, lengths, tgt_in, tgt_out, [int(i) for i in indices])


class EpochBatches(Sequence):
    """One epoch's batches (lists of pair indices) in training order, held compactly.

    `order` lists pair indices batch after batch, batch b is `order[bounds[b]:bounds[b + 1]]`,
    and `sequence` is the order in which batches are trained: a few bytes per pair, so an
    epoch over millions of pairs needs no Python list per pair.
    """

    def __init__(self, order: np.ndarray, bounds: np.ndarray, sequence: np.ndarray):
        self.order, self.bounds, self.sequence = order, bounds, sequence

    def __len__(self) -> int:
        return len(self.sequence)

    def __getitem__(self, k):
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        b = int(self.sequence[k])
        return self.order[self.bounds[b] : self.bounds[b + 1]].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        return (self[i] for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence):
            return NotImplemented
        return len(self) == len(other) and all(a == list(b) for a, b in zip(self, other))


class BucketBatcher:
    """Groups pairs of similar length into batches under a sentence or token budget.

    An epoch shuffles all pairs, sorts each pool of `pool_batches` batches' worth by length,
    cuts the pools into batches and shuffles the batches. The order of epoch `e` depends only
    on (seed, e), so a resumed run can replay it. Lengths are subwords without specials, in
    any integer array (memory-mapped ones included).
    """

    def __init__(self, src_lens: Sequence[int] | np.ndarray, tgt_lens: Sequence[int] | np.ndarray,
                 batch_size: int, batch_tokens: int | None, seed: int, pool_batches: int = 50):
        self.src_lens, self.tgt_lens = np.asarray(src_lens), np.asarray(tgt_lens)
        self.batch_size, self.batch_tokens = batch_size, batch_tokens
        self.seed, self.pool_batches = seed, pool_batches

    def _cut(self, widths: np.ndarray) -> np.ndarray:
        """Batch starts within one sorted pool; `widths` is max(src, tgt) length + 1 per pair."""
        if not self.batch_tokens:  # (a batch_size beyond the pool is the whole pool, not an int64 overflow)
            return np.arange(0, len(widths), min(self.batch_size, max(1, len(widths))))
        starts, count, longest = [0], 0, 0
        for j, w in enumerate(widths.tolist()):
            width = max(longest, w)
            if count and width * (count + 1) > self.batch_tokens:
                starts.append(j)
                count, width = 0, w
            count += 1
            longest = width
        return np.asarray(starts)

    def epoch(self, epoch: int) -> EpochBatches:
        """The batches (lists of pair indices) of one epoch, in training order."""
        rng = np.random.default_rng([self.seed, epoch])
        n = len(self.src_lens)
        order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
        rng.shuffle(order)
        pool = self.pool_batches * (self.batch_size if not self.batch_tokens
                                    else max(1, self.batch_tokens // 20))
        pool = min(pool, max(1, n))  # one pool of all pairs either way; keeps the numbers in int64
        group = pool * max(1, GROUP_PAIRS // pool)
        starts = []
        for g in range(0, n, group):
            chunk = order[g : g + group]
            src, tgt = self.src_lens[chunk], self.tgt_lens[chunk]
            keys = np.lexsort((tgt, src, np.arange(len(chunk)) // pool))  # by pool, then length
            chunk[:] = chunk[keys]
            widths = np.maximum(src[keys], tgt[keys]).astype(np.int64) + 1
            for p in range(0, len(chunk), pool):
                starts.append(g + p + self._cut(widths[p : p + pool]))
        bounds = np.concatenate([*starts, [n]]).astype(np.int64)
        sequence = np.arange(len(bounds) - 1)
        rng.shuffle(sequence)
        return EpochBatches(order, bounds, sequence)
