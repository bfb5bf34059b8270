"""Token-level cross-entropy for teacher-forced outputs, computed on non-pad positions only."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sequence_cross_entropy(attentional: torch.Tensor, tgt_out: torch.Tensor,
                           output_layer: torch.nn.Module, label_smoothing: float = 0.0,
                           pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor, int]:
    """attentional (batch, tgt_len, hidden), tgt_out (batch, tgt_len) ->
    (training loss summed over tokens, NLL summed over tokens, number of tokens).

    The output layer runs only on real (non-pad) positions, which saves its cost on padding.
    """
    keep = tgt_out != pad_id  # (batch, tgt_len)
    logits = output_layer(attentional[keep])  # (tokens, vocab)
    gold = tgt_out[keep]
    logp = torch.log_softmax(logits.float(), dim=-1)
    nll = F.nll_loss(logp, gold, reduction="sum")
    if label_smoothing > 0.0:
        smooth = -logp.mean(dim=-1).sum()
        loss = (1.0 - label_smoothing) * nll + label_smoothing * smooth
    else:
        loss = nll
    return loss, nll.detach(), int(gold.numel())
