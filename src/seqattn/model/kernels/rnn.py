"""The RNN stack behind one interface (`RNNStack`), for the encoder and the decoder.

Every variant answers the same two calls:

    run(x, lengths=None, hidden=None) -> outputs, final
        x (batch, len, input); lengths (batch,) on the CPU, or None when every sequence runs
        to the end (the decoder's teacher-forced pass). outputs (batch, len, dirs * hidden),
        zero past each length; final h (layers * dirs, batch, hidden), or (h, c) for an LSTM,
        taken where each sequence ends.
    step(x, hidden) -> output, hidden
        x (batch, input), one token; output (batch, hidden) of the top layer, the new state.

Variants: `LSTMStack` / `GRUStack` (training and fp32 decoding; `nn.LSTM` / `nn.GRU` with
the same parameters and names, so checkpoints load unchanged), `PackedRNN` in `packed.py`
(bf16 decoding with prepacked weights) and `QuantizedStack` (int8 decoding).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqattn.model.kernels import SWITCHES

RNNState = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@runtime_checkable
class RNNStack(Protocol):
    """What the encoder and decoder call on their RNN (see the module's docstring)."""

    def run(self, x: torch.Tensor, lengths: torch.Tensor | None = None, hidden: RNNState | None = None
            ) -> tuple[torch.Tensor, RNNState]: ...

    def step(self, x: torch.Tensor, hidden: RNNState) -> tuple[torch.Tensor, RNNState]: ...


def replace_modules(model: nn.Module, kinds: tuple[type, ...], make) -> list[str]:
    """Replace every submodule of `model` that is an instance of `kinds` by `make(module)`,
    through PyTorch's own `set_submodule`; returns the names replaced."""
    names = [name for name, m in model.named_modules() if name and isinstance(m, kinds)]
    for name in names:
        model.set_submodule(name, make(model.get_submodule(name)))
    return names


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence's first `length` positions, leaving padding in place.

    x (batch, len, ...), lengths (batch,) -> (batch, len, ...)
    """
    steps = torch.arange(x.size(1), device=x.device)[None, :]  # (1, len)
    lens = lengths.to(x.device)[:, None]
    index = torch.where(steps < lens, lens - 1 - steps, steps)  # (batch, len)
    index = index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x)
    return x.gather(1, index)


def run_packed(module: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, RNNState]:
    """The plain path: `module` over a packed sequence, outputs padded back to x's length."""
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, final = module(packed)
    outputs, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
    return outputs, final


class _CellStack:
    """`run` and `step` for a module that is an `nn.LSTM` or `nn.GRU` (mixed in below)."""

    num_layers: int
    bidirectional: bool
    dropout: float
    training: bool

    def _weights(self, layer: int, reverse: bool = False) -> list[torch.Tensor]:
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        return [getattr(self, f"{n}{suffix}") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]

    @property
    def is_lstm(self) -> bool:
        return isinstance(self, nn.LSTM)

    def run(self, x: torch.Tensor, lengths: torch.Tensor | None = None, hidden: RNNState | None = None
            ) -> tuple[torch.Tensor, RNNState]:
        if lengths is None:
            return self(x, hidden)  # (nn.LSTM / nn.GRU's own forward)
        if x.device.type != "cpu" or not SWITCHES.fused_rnn:
            return run_packed(self, x, lengths)  # cuDNN runs packed sequences natively
        return self._run_fused(x, lengths)

    def _run_fused(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, RNNState]:
        """The same maths as packed sequences, whose CPU kernel runs every step of an
        unequal-length batch as separate operations: here the steps every sequence has run
        as one fused oneDNN call per direction, and only the few past the shortest (a
        length-sorted batch has 0-2) cell by cell."""
        if bool((lengths == x.size(1)).all()):  # no padding: the whole stack in one call
            return self(x)
        dirs, shortest, lstm = (2 if self.bidirectional else 1), int(lengths.min()), self.is_lstm
        lengths = lengths.to(x.device)
        finals_h, finals_c = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, True)
            outputs = []
            for d in range(dirs):
                seq = reverse_padded(x, lengths) if d else x  # backward: each sequence from its end
                out, h, c = _run_direction(seq, lengths, shortest, self._weights(layer, bool(d)), lstm)
                outputs.append(reverse_padded(out, lengths) if d else out)
                finals_h.append(h)
                finals_c.append(c)
            x = torch.cat(outputs, dim=-1) if dirs > 1 else outputs[0]
        h = torch.stack(finals_h)
        return x, ((h, torch.stack(finals_c)) if lstm else h)

    def step(self, x: torch.Tensor, hidden: RNNState) -> tuple[torch.Tensor, RNNState]:
        """One time step as cell ops with the layers' own weights: the fused RNN kernel's
        per-call weight preparation dominates at sequence length 1."""
        if not SWITCHES.cell_steps:
            output, hidden = self(x.unsqueeze(1), hidden)
            return output[:, 0], hidden
        lstm = self.is_lstm
        h_all, c_all = (hidden if lstm else (hidden, None))
        new_h, new_c = [], []
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:
                x = nn.functional.dropout(x, self.dropout, True)
            w = self._weights(layer)
            if lstm:
                h, c = torch.lstm_cell(x, (h_all[layer], c_all[layer]), *w)
                new_c.append(c)
            else:
                h = torch.gru_cell(x, h_all[layer], *w)
            new_h.append(h)
            x = h
        h_stack = torch.stack(new_h)
        return x, ((h_stack, torch.stack(new_c)) if lstm else h_stack)


class LSTMStack(_CellStack, nn.LSTM):
    """`nn.LSTM` (batch first) with `run` and `step`."""


class GRUStack(_CellStack, nn.GRU):
    """`nn.GRU` (batch first) with `run` and `step`."""


def make_rnn(kind: str, input_size: int, hidden_size: int, layers: int, bidirectional: bool = False,
             dropout: float = 0.0) -> LSTMStack | GRUStack:
    """A stacked LSTM ('lstm') or GRU ('gru'); `dropout` applies between layers."""
    cls = LSTMStack if kind == "lstm" else GRUStack
    return cls(input_size, hidden_size, layers, batch_first=True, bidirectional=bidirectional,
               dropout=dropout if layers > 1 else 0.0)


def plain_module(stack: nn.LSTM | nn.GRU) -> nn.LSTM | nn.GRU:
    """The same stack as a plain `nn.LSTM` / `nn.GRU` sharing its parameters (for tools that
    match module types exactly, such as PyTorch's dynamic quantization)."""
    base = nn.LSTM if isinstance(stack, nn.LSTM) else nn.GRU
    plain = base(stack.input_size, stack.hidden_size, stack.num_layers, batch_first=stack.batch_first,
                 bidirectional=stack.bidirectional, dropout=stack.dropout, bias=stack.bias)
    plain.load_state_dict(stack.state_dict())
    return plain.train(stack.training)


class QuantizedStack(nn.Module):
    """A dynamically quantized (int8) LSTM/GRU with `run` and `step`: its own calls."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module

    def run(self, x: torch.Tensor, lengths: torch.Tensor | None = None, hidden: RNNState | None = None
            ) -> tuple[torch.Tensor, RNNState]:
        if lengths is None:
            return self.module(x, hidden)
        return run_packed(self.module, x, lengths)

    def step(self, x: torch.Tensor, hidden: RNNState) -> tuple[torch.Tensor, RNNState]:
        output, hidden = self.module(x.unsqueeze(1), hidden)
        return output[:, 0], hidden


def _run_direction(x: torch.Tensor, lengths: torch.Tensor, shortest: int, weights: list[torch.Tensor],
                   lstm: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """One direction of one layer over padded input; each sequence ends at its `lengths`.

    x (batch, len, input) -> outputs (batch, len, hidden), zero on padding; final h, c
    (batch, hidden), each taken where its sequence ends. `weights`: w_ih, w_hh, b_ih, b_hh.
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
