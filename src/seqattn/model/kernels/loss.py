"""Label-smoothed cross-entropy and its gradient in one blockwise pass (switch `fused_loss`).

The loss over the vocabulary is the single most expensive elementwise work of a training
step (tokens x vocab, e.g. 1,000 x 8,000 per batch). `SmoothedCrossEntropy` computes it in
one pass over blocks of rows small enough to stay in cache: the gradient of label-smoothed
cross-entropy with respect to the logits is `softmax(logits) - q` (q = the smoothed target
distribution), so the forward pass writes it once, already multiplied by the loss scale,
and the backward pass hands it on, instead of autograd replaying log-softmax, gather and
mean backwards over the full matrix.
"""

from __future__ import annotations

import math

import torch

from seqattn.model.kernels import SWITCHES

CHUNK_ROWS = 64  # 64 x 8,000 fp32 = 2 MB: one block of rows fits in a core's L2 cache


class SmoothedCrossEntropy(torch.autograd.Function):
    """logits (rows, vocab) any float dtype, gold (tokens,) with tokens <= rows, scale s ->
    (s x loss summed over tokens, NLL summed over tokens), scalars in fp32 (or fp64 for fp64
    logits).

    loss = (1 - eps) * NLL + eps * (cross-entropy against the uniform distribution).
    Softmax statistics are always computed in fp32, also for bf16 or fp16 logits. Rows past
    `tokens` are padding: they add nothing to the loss and get a zero gradient. The scale
    (e.g. 1 / tokens in the batch) is applied while the gradient is written, so a backward
    pass from the returned loss itself only hands that gradient on, with no extra pass over
    a (rows, vocab) matrix.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, gold: torch.Tensor, eps: float, scale: float = 1.0):
        if not scale >= 0.0:  # (also catches NaN)
            raise ValueError(f"loss scale must be a number >= 0, got {scale}")
        n, vocab = gold.numel(), logits.size(1)  # rows past n are padding
        need_grad = ctx.needs_input_grad[0]
        # fp16's range is too small for a gradient not yet multiplied by the loss scale (it
        # comes in backward): kept in fp32 until then; bf16 has fp32's range
        ctx.dtype = logits.dtype
        grad_dtype = torch.float32 if logits.dtype == torch.float16 else logits.dtype
        grad = logits.new_empty(logits.shape, dtype=grad_dtype) if need_grad else None
        if need_grad:
            grad[n:].zero_()
        stats = torch.float64 if logits.dtype == torch.float64 else torch.float32
        nll = logits.new_zeros((), dtype=stats)
        uniform_ce = torch.zeros_like(nll)
        # two (chunk, vocab) buffers reused by every block: the logits in the stats dtype
        # and their log-softmax (fresh results per block cost as much as the arithmetic)
        width = min(CHUNK_ROWS, max(n, 1))
        as_stats = logits.new_empty((width, vocab), dtype=stats) if logits.dtype != stats else None
        logp_buf = logits.new_empty((width, vocab), dtype=stats)
        log_scale = math.log(scale) if scale > 0 else -math.inf
        for start in range(0, n, CHUNK_ROWS):  # row blocks that stay in cache
            rows = slice(start, min(start + CHUNK_ROWS, n))
            k, g = rows.stop - start, gold[rows, None]  # g (chunk, 1)
            x = logits[rows] if as_stats is None else as_stats[:k].copy_(logits[rows])
            logp = torch.log_softmax(x, dim=-1, out=logp_buf[:k])  # (chunk, vocab)
            nll -= logp.gather(1, g).sum()
            uniform_ce -= logp.sum() / vocab
            if need_grad:  # d (s loss) / d logits = s (softmax - q), q = (1-eps) one-hot + eps/V
                p = (logp.add_(log_scale) if scale != 1.0 else logp).exp_()  # s softmax
                p.scatter_add_(1, g, p.new_full(g.shape, scale * (eps - 1.0)))
                grad[rows].copy_(p.sub_(scale * eps / vocab))
        if need_grad:
            ctx.save_for_backward(grad)
        loss = nll.clone() if eps == 0.0 else (1.0 - eps) * nll + eps * uniform_ce
        return loss * scale, nll

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor, _grad_nll: torch.Tensor):
        (grad,) = ctx.saved_tensors
        if not grad_loss.eq(1).all():  # backward from the returned loss itself: nothing to scale
            grad = grad * grad_loss.to(grad.dtype)
        return grad.to(ctx.dtype), None, None, None


def smoothed_cross_entropy(logits: torch.Tensor, gold: torch.Tensor, eps: float, scale: float = 1.0
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """logits (rows, vocab), gold (tokens,), tokens <= rows (later rows are padding) ->
    (scale x label-smoothed loss summed over tokens, NLL summed over tokens): the fused pass,
    or with the switch off the textbook composition through autograd."""
    if SWITCHES.fused_loss:
        return SmoothedCrossEntropy.apply(logits, gold, eps, scale)
    if not scale >= 0.0:
        raise ValueError(f"loss scale must be a number >= 0, got {scale}")
    stats = torch.float64 if logits.dtype == torch.float64 else torch.float32
    logp = torch.log_softmax(logits[: gold.numel()].to(stats), dim=-1)
    nll = -logp.gather(1, gold[:, None]).sum()
    loss = nll if eps == 0.0 else (1.0 - eps) * nll - eps * logp.mean(-1).sum()
    return loss * scale, nll
