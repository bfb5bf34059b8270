"""Token-level cross-entropy for teacher-forced outputs, computed on non-pad positions only.

The loss over the vocabulary is the single most expensive elementwise work of a training
step (tokens x vocab, e.g. 1,000 x 8,000 per batch). `SmoothedCrossEntropy` computes it in
one fused pass: the gradient of label-smoothed cross-entropy with respect to the logits is
`softmax(logits) - q` (q = the smoothed target distribution), so the forward pass writes it
once and the backward pass only scales it, instead of autograd replaying log-softmax,
gather and mean backwards over the full matrix.
"""

from __future__ import annotations

import torch


class SmoothedCrossEntropy(torch.autograd.Function):
    """logits (rows, vocab) any float dtype, gold (tokens,) with tokens <= rows ->
    (loss summed over tokens, NLL summed over tokens), scalars in fp32 (or fp64 for fp64 logits).

    loss = (1 - eps) * NLL + eps * (cross-entropy against the uniform distribution).
    Softmax statistics are always computed in fp32, also for bf16 logits. Rows past
    `tokens` are padding: they add nothing to the loss and get a zero gradient.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, gold: torch.Tensor, eps: float):
        n = gold.numel()  # rows past n are padding (see `sequence_cross_entropy`)
        padded, logits = logits, logits[:n]
        x = logits.float() if logits.dtype in (torch.bfloat16, torch.float16) else logits
        lse = torch.logsumexp(x, dim=-1, keepdim=True)  # (tokens, 1)
        gold_logit = x.gather(1, gold[:, None])  # (tokens, 1)
        nll = (lse - gold_logit).sum()
        loss = nll.clone()  # two distinct outputs, or autograd merges their gradients
        if eps > 0.0:
            uniform_ce = (lse.squeeze(1) - x.mean(dim=-1)).sum()  # -sum_j logp_j / V
            loss = (1.0 - eps) * nll + eps * uniform_ce
        if ctx.needs_input_grad[0]:
            grad = x.sub_(lse).exp_() if x is not logits else torch.exp(x - lse)  # softmax
            grad.scatter_add_(1, gold[:, None], grad.new_full((n, 1), eps - 1.0))  # - (1-eps) at gold
            if eps > 0.0:
                grad.sub_(eps / x.size(1))  # - eps/V everywhere
            if padded.size(0) > n:
                full = padded.new_zeros(padded.shape)
                full[:n] = grad
                grad = full
            ctx.save_for_backward(grad.to(padded.dtype))
        return loss, nll

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor, _grad_nll: torch.Tensor):
        (grad,) = ctx.saved_tensors
        return grad * grad_loss.to(grad.dtype), None, None


def sequence_cross_entropy(attentional: torch.Tensor, tgt_out: torch.Tensor,
                           output_layer: torch.nn.Module, label_smoothing: float = 0.0,
                           pad_id: int = 0, row_multiple: int = 1) -> tuple[torch.Tensor, torch.Tensor, int]:
    """attentional (batch, tgt_len, hidden), tgt_out (batch, tgt_len) ->
    (training loss summed over tokens, NLL summed over tokens, number of tokens).

    The output layer runs only on real (non-pad) positions, which saves its cost on padding.
    `row_multiple` > 1 rounds the number of rows it sees up to a multiple (repeating a real
    row, which gets no gradient): oneDNN compiles one bf16 matmul kernel per shape, and
    without rounding nearly every batch has a new token count, costing a fresh compile
    (~10-20 ms) for each of the three output-layer matmuls of a step.
    """
    flat_keep = (tgt_out != pad_id).reshape(-1)
    rows = flat_keep.nonzero().squeeze(1)  # (tokens,) positions of real tokens
    gold = tgt_out.reshape(-1).index_select(0, rows)
    extra = -rows.numel() % row_multiple
    if extra:
        rows = torch.cat([rows, rows[:1].expand(extra)])
    hidden = attentional.reshape(-1, attentional.size(-1)).index_select(0, rows)  # (rows, hidden)
    logits = output_layer(hidden)  # (rows, vocab)
    loss, nll = SmoothedCrossEntropy.apply(logits, gold, float(label_smoothing))
    return loss, nll.detach(), int(gold.numel())
