"""The encoder: embedding -> (bi)directional, stacked LSTM/GRU over the source."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqattn.config import EncoderConfig
from seqattn.model.kernels.dropout import Dropout
from seqattn.model.kernels.rnn import RNNStack, make_rnn, reverse_padded


@dataclass
class EncoderOutput:
    states: torch.Tensor  # (batch, src_len, directions * hidden): one state per source token
    final_hidden: torch.Tensor  # (layers, batch, directions * hidden)
    final_cell: torch.Tensor | None  # (layers, batch, directions * hidden), LSTM only
    mask: torch.Tensor  # (batch, src_len) True on real tokens

    @property
    def context_vector(self) -> torch.Tensor:
        """The fixed-size summary of the source: the top layer's final state, (batch, hidden)."""
        return self.final_hidden[-1]


class Encoder(nn.Module):
    def __init__(self, cfg: EncoderConfig, vocab_size: int, pad_id: int = 0):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(vocab_size, cfg.emb_size, padding_idx=pad_id)
        self.dropout = Dropout(cfg.dropout)
        self.rnn: RNNStack = make_rnn(cfg.rnn, cfg.emb_size, cfg.hidden_size, cfg.layers, cfg.bidirectional,
                            cfg.dropout)
        self.output_size = cfg.output_size

    def _merge_directions(self, h: torch.Tensor) -> torch.Tensor:
        """(layers * dirs, batch, hidden) -> (layers, batch, dirs * hidden)."""
        dirs = 2 if self.cfg.bidirectional else 1
        h = h.view(self.cfg.layers, dirs, h.size(1), h.size(2))
        return torch.cat([h[:, d] for d in range(dirs)], dim=-1)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor,
                embedded: torch.Tensor | None = None) -> EncoderOutput:
        """src (batch, src_len) ids, src_lengths (batch,) on any device -> one state h_j per
        source token, the final states and the mask of real tokens. `embedded` (batch, src_len,
        emb), in source order, is read instead of looking `src` up (attributions differentiate
        through it)."""
        lengths_cpu = src_lengths.cpu()
        mask = torch.arange(src.size(1), device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        if embedded is None:
            embedded = self.embedding(src)  # (batch, src_len, emb)
        if self.cfg.reverse_source:
            embedded = reverse_padded(embedded, lengths_cpu)
        embedded = self.dropout(embedded)
        states, final = self.rnn.run(embedded, lengths_cpu)  # (batch, src_len, dirs * hidden)
        hidden, cell = final if isinstance(final, tuple) else (final, None)
        if self.cfg.reverse_source:  # give states back in source order, for attention maps
            states = reverse_padded(states, lengths_cpu)
        return EncoderOutput(
            states=self.dropout(states),
            final_hidden=self._merge_directions(hidden),
            final_cell=self._merge_directions(cell) if cell is not None else None,
            mask=mask,
        )
