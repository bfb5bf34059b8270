"""int8 dynamic quantization for CPU inference.

Linear layers and LSTM/GRU weights are stored as int8 (per-tensor scale); activations stay
fp32 and are quantized on the fly per call. Embeddings stay fp32. This uses PyTorch's
`torch.ao.quantization.quantize_dynamic`, which PyTorch marks deprecated in favour of
torchao but which still ships with (and is tested against) the supported torch versions.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import nn


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` (in eval mode) with int8 Linear, LSTM and GRU weights; CPU only."""
    from torch.ao.quantization import quantize_dynamic

    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError("int8 quantization runs on the CPU only")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        return quantize_dynamic(copy.deepcopy(model).eval(), {nn.Linear, nn.LSTM, nn.GRU},
                                dtype=torch.qint8)
