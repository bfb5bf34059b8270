"""Dropout with a cheaper mask: 15-bit random integers compared with a threshold (switch
`integer_dropout`; off, `torch.nn.functional.dropout`).

Same definition as `torch.nn.Dropout` (zero each element with probability p, scale the rest
by 1/(1-p), identity in eval mode), with p rounded to a multiple of 2^-15 (0.3 becomes
0.299988). On the CPU PyTorch draws random numbers one at a time on one thread, and a
Bernoulli sample costs several uniform draws. Here each 32-bit draw gives two 15-bit
numbers, and the mask is applied with one product in the input's dtype. The mask stays in
integers until it becomes the input's dtype: comparisons that give bool tensors, and
bool-to-float conversions, cost several times the integer arithmetic on the CPUs measured.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from seqattn.model.kernels import SWITCHES

LEVELS = 1 << 15  # a mask element is a uniform integer in [0, LEVELS)


def keep_mask(shape: torch.Size | tuple[int, ...], p: float, device: torch.device | str) -> torch.Tensor:
    """An int16 tensor of `shape`: each element 0 with probability round(p * 2^15) / 2^15,
    else 1."""
    n, threshold = math.prod(shape), round(p * LEVELS)
    if threshold == 0:  # p < 2^-16: nothing is dropped (and threshold - 1 below would overflow)
        return torch.ones(shape, dtype=torch.int16, device=device)
    draws = torch.empty((n + 1) // 2, dtype=torch.int32, device=device).random_()  # 31 random bits
    halves = draws.view(torch.int16)[:n] & (LEVELS - 1)  # two 15-bit numbers per draw
    return halves.sub_(threshold - 1).clamp_(0, 1).view(shape)  # 1 where >= threshold


class Dropout(nn.Module):
    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.scale = 1.0 / (1.0 - round(p * LEVELS) / LEVELS)  # keeps the expected value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if not SWITCHES.integer_dropout:
            return nn.functional.dropout(x, self.p, True)
        return x * keep_mask(x.shape, self.p, x.device).to(x.dtype).mul_(self.scale)

    def extra_repr(self) -> str:
        return f"p={self.p}"
