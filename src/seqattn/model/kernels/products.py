"""Attention's two batched products (scores and the weighted sum) on the CPU, in fp32.

oneDNN compiles a bf16 kernel for each new shape of a batched product, and every batch
brings new shapes: a (target length, source length) pair in training, a (live rows, source
length) pair at each decoding step. These products are a sliver of a step's FLOPs, and
MKL's fp32 product compiles nothing, so on the CPU they run, and return, fp32 whatever the
inputs' precision; when decoding, the memory (keys and values) is converted to fp32 once
per batch instead of at every step. `benchmarks/decode_speed.py` and `train_speed.py`
measure the effect on the machine at hand.
"""

from __future__ import annotations

import torch

from seqattn.model.kernels import SWITCHES


def bmm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched matrix product (batch, n, k) x (batch, k, m) -> (batch, n, m): at least fp32 on
    the CPU (switch `fp32_attention_products`), elsewhere `torch.bmm` in b's dtype."""
    if a.device.type != "cpu" or not SWITCHES.fp32_attention_products:
        return torch.bmm(a.to(b.dtype), b)
    dtype = torch.promote_types(torch.promote_types(a.dtype, b.dtype), torch.float32)  # (fp64 stays)
    with torch.autocast("cpu", enabled=False):
        return torch.bmm(a.to(dtype), b.to(dtype))


def decoding_memory(keys: torch.Tensor | None, values: torch.Tensor, training: bool
                    ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Keys and values as the attention products will read them: fp32 once per batch when
    decoding on the CPU (the products run in fp32 there), else unchanged."""
    if keys is None or training or values.device.type != "cpu" or not SWITCHES.fp32_attention_products:
        return keys, values
    return keys.float(), values.float()
