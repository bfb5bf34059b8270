"""The training loss: cross-entropy of the next target token, on real (non-pad) positions.

With label smoothing eps, the target distribution puts 1 - eps on the gold token and
spreads eps evenly over the vocabulary; the loss is the cross-entropy against it.
"""

from __future__ import annotations

import torch

from seqattn.model.kernels.loss import smoothed_cross_entropy
from seqattn.model.kernels.projection import project


def sequence_cross_entropy(attentional: torch.Tensor, tgt_out: torch.Tensor,
                           output_layer: torch.nn.Module, label_smoothing: float = 0.0,
                           pad_id: int = 0, row_multiple: int = 1, scale: float = 1.0
                           ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """attentional (batch, tgt_len, hidden), tgt_out (batch, tgt_len) ->
    (training loss summed over tokens x `scale`, NLL summed over tokens, number of tokens).

    The output layer runs only on real (non-pad) positions, which saves its cost on padding.
    `row_multiple` > 1 rounds the number of rows it sees up to a multiple (repeating a real
    row, which gets no gradient): oneDNN compiles one bf16 matmul kernel per shape, and
    without rounding nearly every batch would bring a new token count, so a fresh compile
    for each of the three output-layer products of a step (`Precision.train_row_multiple`).
    """
    flat_keep = (tgt_out != pad_id).reshape(-1)
    rows = flat_keep.nonzero().squeeze(1)  # (tokens,) positions of real tokens
    gold = tgt_out.reshape(-1).index_select(0, rows)
    extra = -rows.numel() % row_multiple
    if extra:
        rows = torch.cat([rows, rows[:1].expand(extra)])
    hidden = attentional.reshape(-1, attentional.size(-1)).index_select(0, rows)  # (rows, hidden)
    logits = project(hidden, output_layer)  # (rows, vocab)
    loss, nll = smoothed_cross_entropy(logits, gold, float(label_smoothing), float(scale))
    return loss, nll.detach(), int(gold.numel())


class TeacherForcedLoss(torch.nn.Module):
    """The model and its loss as one module: a batch in, the loss out. This is what a
    training step calls (and what DistributedDataParallel wraps, output layer included)."""

    def __init__(self, model: torch.nn.Module, label_smoothing: float, pad_id: int = 0):
        super().__init__()
        self.model, self.label_smoothing, self.pad_id = model, label_smoothing, pad_id

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor, tgt_in: torch.Tensor,
                tgt_out: torch.Tensor, sample_prob: float = 0.0, row_multiple: int = 1,
                scale: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, int]:
        """src (batch, src_len), tgt_in / tgt_out (batch, tgt_len): the target without its
        last and without its first token -> `sequence_cross_entropy`'s (loss x scale, NLL,
        tokens)."""
        attentional, _ = self.model(src, src_lengths, tgt_in, sample_prob)
        return sequence_cross_entropy(attentional, tgt_out, self.model.decoder.output,
                                      self.label_smoothing, self.pad_id, row_multiple, scale)
