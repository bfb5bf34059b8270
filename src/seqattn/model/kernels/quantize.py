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

from seqattn.model.kernels.rnn import QuantizedStack, plain_module, replace_modules


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` (in eval mode) with int8 Linear, LSTM and GRU weights; CPU only."""
    from torch.ao.quantization import quantize_dynamic

    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError("int8 quantization runs on the CPU only")
    copied = copy.deepcopy(model).eval()
    stacks = replace_modules(copied, (nn.LSTM, nn.GRU), plain_module)  # PyTorch matches types exactly
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantize_dynamic(copied, {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8, inplace=True)
    for name in stacks:  # the quantized RNNs answer the RNN-stack interface
        copied.set_submodule(name, QuantizedStack(copied.get_submodule(name)))
    return copied
