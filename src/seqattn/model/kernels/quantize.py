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

from seqattn.model.kernels.rnn import QuantizedStack, plain_module


def quantize_int8(model: nn.Module) -> nn.Module:
    """A copy of `model` (in eval mode) with int8 Linear, LSTM and GRU weights; CPU only."""
    from torch.ao.quantization import quantize_dynamic

    if any(p.device.type != "cpu" for p in model.parameters()):
        raise ValueError("int8 quantization runs on the CPU only")
    copied = copy.deepcopy(model).eval()
    stacks = _rnn_stacks(copied)
    for parent, name, stack in stacks:  # PyTorch matches module types exactly
        setattr(parent, name, plain_module(stack))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        quantize_dynamic(copied, {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8, inplace=True)
    for parent, name, _ in stacks:  # the quantized RNNs answer the RNN-stack interface
        setattr(parent, name, QuantizedStack(getattr(parent, name)))
    return copied


def _rnn_stacks(model: nn.Module) -> list[tuple[nn.Module, str, nn.Module]]:
    """(parent, attribute, module) of every LSTM/GRU in `model`."""
    return [(parent, name, child) for parent in model.modules()
            for name, child in parent.named_children() if isinstance(child, (nn.LSTM, nn.GRU))]
