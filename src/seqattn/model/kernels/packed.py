"""A bf16 decoding copy of a model whose weights are prepacked for oneDNN (CPU inference;
switch `packed_decoding`).

A plain bf16 matrix product on the CPU goes through oneDNN, which first reorders the weight
matrix into its blocked layout, on every call. Decoding multiplies small batches (one row
per live hypothesis) by the same weights hundreds of times, so that reorder is a large part
of each product (`benchmarks/packed_products.py` measures it). Packing once, when the
decoding copy is made, removes it; the products, and so the outputs, are the same. The
decoder's RNN cell is rebuilt from packed products plus its pointwise gates.

Inference only (no gradients). The two operators used, `mkldnn._reorder_linear_weight` and
`mkldnn._linear_pointwise`, are the ones PyTorch's own compiler emits for frozen CPU
models; they are not public API, so `packing_works()` probes them once per copy, and where
packing is not available (no oneDNN, a CPU without bf16 support, another device, a PyTorch
without them) `pack_bf16` leaves the plain bf16 modules in place.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from seqattn.model.kernels import SWITCHES
from seqattn.model.kernels.rnn import replace_modules

PACK_HINT_ROWS = 64  # the batch size oneDNN is told to expect; any row count works


def _pack(weight: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._reorder_linear_weight(weight, PACK_HINT_ROWS)


def _packed_product(x: torch.Tensor, packed: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x (rows, in) -> (rows, out) = x W^T + b with a prepacked W."""
    return torch.ops.mkldnn._linear_pointwise(x, packed, bias, "none", [], "")


class PackedLinear(nn.Module):
    """nn.Linear with its bf16 weight prepacked; input (..., in) -> (..., out)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed = _pack(linear.weight.detach())
        self.bias = None if linear.bias is None else linear.bias.detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _packed_product(x.reshape(-1, self.in_features), self.packed, self.bias)
        return out.reshape(*x.shape[:-1], self.out_features)


class PackedRNN(nn.Module):
    """A stacked LSTM/GRU whose one-step cells use prepacked weights (the RNN-stack interface
    of `rnn.py`).

    `step(x, hidden)`: x (batch, input) -> top output (batch, hidden), new state (layers,
    batch, hidden) [LSTM: (h, c)]. An LSTM layer is one product of [x, h] with [W_ih W_hh]
    and the two biases summed; a GRU layer needs its input and hidden products apart (the
    reset gate scales the hidden one). `run` and `forward` (whole sequences) are the
    original module's.
    """

    def __init__(self, rnn: nn.LSTM | nn.GRU):
        super().__init__()
        self.plain = rnn
        self.lstm = isinstance(rnn, nn.LSTM)
        self.num_layers = rnn.num_layers
        self.cells: list[tuple[torch.Tensor, ...]] = []
        for layer in range(rnn.num_layers):
            w_ih, w_hh, b_ih, b_hh = (getattr(rnn, f"{n}_l{layer}").detach()
                                      for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
            if self.lstm:
                bias = (b_ih.float() + b_hh.float()).to(b_ih.dtype)  # one rounding, not two
                self.cells.append((_pack(torch.cat([w_ih, w_hh], dim=1)), bias))
            else:
                self.cells.append((_pack(w_ih), b_ih, _pack(w_hh), b_hh))

    def forward(self, x, hidden=None):
        return self.plain(x, hidden)

    def run(self, x: torch.Tensor, lengths: torch.Tensor | None = None, hidden=None):
        return self.plain.run(x, lengths, hidden)

    def step(self, x: torch.Tensor, hidden):
        h_all, c_all = hidden if self.lstm else (hidden, None)
        new_h, new_c = [], []
        for layer, cell in enumerate(self.cells):
            h = h_all[layer]
            if self.lstm:
                gates = _packed_product(torch.cat([x, h], dim=1), *cell)  # (batch, 4 * hidden)
                i, f, g, o = gates.chunk(4, dim=1)
                c = torch.sigmoid(f) * c_all[layer] + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
                new_c.append(c)
            else:
                gi = _packed_product(x, cell[0], cell[1]).chunk(3, dim=1)
                gh = _packed_product(h, cell[2], cell[3]).chunk(3, dim=1)
                r, z = torch.sigmoid(gi[0] + gh[0]), torch.sigmoid(gi[1] + gh[1])
                n = torch.tanh(gi[2] + r * gh[2])
                h = n + z * (h - n)
            new_h.append(h)
            x = h
        h_stack = torch.stack(new_h)
        return x, ((h_stack, torch.stack(new_c)) if self.lstm else h_stack)


def packing_works() -> bool:
    """Whether this PyTorch build and CPU pack bf16 weights and give the plain product."""
    try:
        gen = torch.Generator().manual_seed(0)
        w = torch.randn(24, 16, generator=gen).bfloat16()
        x = torch.randn(3, 16, generator=gen).bfloat16()
        b = torch.randn(24, generator=gen).bfloat16()
        out = _packed_product(x, _pack(w), b)
    except (RuntimeError, AttributeError, NotImplementedError):
        return False
    ref = nn.functional.linear(x.float(), w.float(), b.float())
    return bool(torch.allclose(out.float(), ref, atol=0.1, rtol=0.02))


def pack_bf16(model: nn.Module) -> nn.Module:
    """A bf16 copy of a CPU `model` in eval mode, with Linear layers and the decoder RNN's
    weights prepacked when `packing_works()`; `model` itself is unchanged."""
    decoding = copy.deepcopy(model).to(torch.bfloat16).eval()
    if (not SWITCHES.packed_decoding or any(p.device.type != "cpu" for p in decoding.parameters())
            or not packing_works()):
        return decoding
    replace_modules(decoding, (nn.Linear,), PackedLinear)
    if isinstance(getattr(decoding, "decoder", None), nn.Module):
        replace_modules(decoding.decoder, (nn.LSTM, nn.GRU), PackedRNN)
    return decoding
