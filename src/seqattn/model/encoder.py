"""The encoder: embedding -> (bi)directional, stacked LSTM/GRU over the source."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqattn.config import EncoderConfig
from seqattn.model.dropout import Dropout


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first `length` positions, leaving padding in place.

    x: (batch, len, ...) ; lengths: (batch,)
    """
    steps = torch.arange(x.size(1), device=x.device)[None, :]  # (1, len)
    lens = lengths.to(x.device)[:, None]
    index = torch.where(steps < lens, lens - 1 - steps, steps)  # (batch, len)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


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
        rnn = nn.LSTM if cfg.rnn == "lstm" else nn.GRU
        self.rnn = rnn(cfg.emb_size, cfg.hidden_size, cfg.layers, batch_first=True,
                       bidirectional=cfg.bidirectional,
                       dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.output_size = cfg.output_size

    def _merge_directions(self, h: torch.Tensor) -> torch.Tensor:
        """(layers * dirs, batch, hidden) -> (layers, batch, dirs * hidden)."""
        dirs = 2 if self.cfg.bidirectional else 1
        h = h.view(self.cfg.layers, dirs, h.size(1), h.size(2))
        return torch.cat([h[:, d] for d in range(dirs)], dim=-1)

    def forward(self, src: torch.Tensor, src_lengths: torch.Tensor) -> EncoderOutput:
        """src: (batch, src_len) ids; src_lengths: (batch,) on any device."""
        lengths_cpu = src_lengths.cpu()
        mask = torch.arange(src.size(1), device=src.device)[None, :] < src_lengths.to(src.device)[:, None]
        if self.cfg.reverse_source:
            src = reverse_padded(src, lengths_cpu)
        embedded = self.dropout(self.embedding(src))  # (batch, src_len, emb)
        if embedded.device.type == "cpu" and isinstance(self.rnn, (nn.LSTM, nn.GRU)):
            states, hidden, cell = self._run_rnn(embedded, lengths_cpu)
        else:  # cuDNN runs packed sequences natively; an int8-quantized RNN has its own call
            packed = pack_padded_sequence(embedded, lengths_cpu, batch_first=True, enforce_sorted=False)
            packed_out, final = self.rnn(packed)
            states, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=src.size(1))
            hidden, cell = final if isinstance(final, tuple) else (final, None)
        if self.cfg.reverse_source:  # give states back in source order, for attention maps
            states = reverse_padded(states, lengths_cpu)
        return EncoderOutput(
            states=self.dropout(states),
            final_hidden=self._merge_directions(hidden),
            final_cell=self._merge_directions(cell) if cell is not None else None,
            mask=mask,
        )

    def _run_rnn(self, x: torch.Tensor, lengths: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The stacked (bi)directional RNN over padded input, each sequence to its own length.

        x (batch, src_len, emb), lengths (batch,) on the CPU -> outputs (batch, src_len,
        dirs * hidden), zero on padding; final h and c (layers * dirs, batch, hidden), as
        `self.rnn` gives them for a packed sequence. The same maths as packed sequences,
        whose CPU kernel runs every step of an unequal-length batch as separate operations
        (a bf16 encoder pass took 1.6-1.8x as long here): the steps every sequence has run
        as one fused oneDNN call.
        """
        rnn, lstm = self.rnn, isinstance(self.rnn, nn.LSTM)
        if bool((lengths == x.size(1)).all()):  # no padding: the whole stack in one call
            out, final = rnn(x)
            return (out, *final) if lstm else (out, final, None)
        dirs, shortest = (2 if rnn.bidirectional else 1), int(lengths.min())
        lengths = lengths.to(x.device)
        finals_h, finals_c = [], []
        for layer in range(rnn.num_layers):
            if layer > 0 and self.training and rnn.dropout > 0:
                x = nn.functional.dropout(x, rnn.dropout, True)
            outputs = []
            for d in range(dirs):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                w = [getattr(rnn, f"{n}{suffix}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                seq = reverse_padded(x, lengths) if d else x  # backward: each sequence from its end
                out, h, c = _run_direction(seq, lengths, shortest, w, lstm)
                outputs.append(reverse_padded(out, lengths) if d else out)
                finals_h.append(h)
                finals_c.append(c)
            x = torch.cat(outputs, dim=-1) if dirs > 1 else outputs[0]
        return x, torch.stack(finals_h), (torch.stack(finals_c) if lstm else None)


def _run_direction(x: torch.Tensor, lengths: torch.Tensor, shortest: int, weights: list[torch.Tensor],
                   lstm: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One direction of one layer over padded input; each sequence ends at its `lengths`.

    x (batch, len, input) -> outputs (batch, len, hidden), zero on padding; final h, c
    (batch, hidden), each taken where its sequence ends. The steps all sequences have run
    as one fused RNN call; the few past the shortest (a length-sorted batch has 0-2) run
    cell by cell, keeping the state of the sequences that have ended. `weights`: w_ih,
    w_hh, b_ih, b_hh of the direction.
    """
    batch, steps, hidden = x.size(0), x.size(1), weights[1].size(1)
    h = c = x.new_zeros(batch, hidden)
    outputs = []
    if shortest > 0:
        train = torch.is_grad_enabled()  # keep what backward needs
        state = (h[None], c[None]) if lstm else h[None]
        if lstm:
            out, h, c = torch.lstm(x[:, :shortest], state, weights, True, 1, 0.0, train, False, True)
            c = c[0]
        else:
            out, h = torch.gru(x[:, :shortest], state, weights, True, 1, 0.0, train, False, True)
        outputs.append(out)
        h = h[0]
    for t in range(shortest, steps):
        live = (lengths > t)[:, None]  # (batch, 1)
        if lstm:
            h_new, c_new = torch.lstm_cell(x[:, t], (h, c), *weights)
            c = torch.where(live, c_new, c)
        else:
            h_new = torch.gru_cell(x[:, t], h, *weights)
        h = torch.where(live, h_new, h)
        outputs.append(torch.where(live, h_new, 0.0).unsqueeze(1))
    out = torch.cat(outputs, dim=1) if len(outputs) > 1 else outputs[0]
    return out, h, (c if lstm else None)
