"""A search's bookkeeping over batch rows: length limits, dropping finished rows, and
log-probabilities written into reused buffers. None of it changes what a search finds."""

from __future__ import annotations

import torch

from seqattn.limits import max_output_length


def max_lengths(src_lengths: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """(batch,) source lengths -> (batch,) output length limits (`limits.max_output_length`)."""
    return torch.tensor([max_output_length(n, a, b) for n in src_lengths.tolist()], dtype=torch.long)


def rows_to_keep(alive: torch.Tensor, multiple: int = 1) -> torch.Tensor | None:
    """Indices of the rows to keep once some finished: every live row, plus finished ones
    up to a multiple of `multiple` rows; None when no row can be dropped.

    Rounding the batch to a few sizes matters for bf16 on CPU, where oneDNN compiles a new
    kernel for every new matrix shape it meets.
    """
    n_live, n = int(alive.sum()), alive.numel()
    target = min(n, -(-n_live // multiple) * multiple)
    if target == n:
        return None
    live = alive.nonzero().squeeze(1)
    if target == n_live:
        return live
    return torch.cat([live, (~alive).nonzero().squeeze(1)[: target - n_live]])


class LogSoftmax:
    """Log-probabilities over the vocabulary in fp32, written into buffers kept across steps.

    A fresh (rows, vocab) fp32 result every step (beam 5 x 64 sentences x 8,000 pieces is
    10 MB, plus as much for the bf16 -> fp32 copy) made glibc map, unmap and page-fault that
    memory at every step; reusing two buffers sized for the first (largest) step avoids it.
    """

    def __init__(self) -> None:
        self.buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (rows, vocab), any float dtype -> log-probabilities (rows, vocab) fp32,
        valid until the next call (which writes into the same buffer)."""
        rows, vocab = logits.shape
        if self.buffers is None or self.buffers[0].size(0) < rows or self.buffers[0].size(1) != vocab:
            self.buffers = tuple(torch.empty(rows, vocab, device=logits.device) for _ in range(2))
        as_fp32, out = (b[:rows] for b in self.buffers)
        if logits.dtype != torch.float32:
            logits = as_fp32.copy_(logits)
        return torch.log_softmax(logits, dim=-1, out=out)
