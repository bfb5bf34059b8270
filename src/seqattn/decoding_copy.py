"""Which copy of the weights decoding runs: the decision, made once for every verb.

fp32 decodes the model itself; bf16 a copy with weights prepacked for oneDNN on the CPU;
fp16 (CUDA) a half-precision copy; `quantize='int8'` a copy with int8 Linear/LSTM/GRU
weights (CPU). The model itself is never changed. `seqattn.precision` decides the precision;
this module turns the decision into weights.
"""

from __future__ import annotations

import copy

import torch

from seqattn.choices import QUANTIZATIONS, spoken
from seqattn.errors import SeqattnError
from seqattn.model.kernels.packed import pack_bf16
from seqattn.model.kernels.quantize import quantize_int8
from seqattn.model.seq2seq import Seq2Seq
from seqattn.precision import Precision, int8_engine


def check_quantize(quantize: str | None, device: torch.device) -> None:
    """Refuse, in one line, a quantization this device or PyTorch build cannot run."""
    if quantize not in (None, *QUANTIZATIONS):
        raise SeqattnError(f"unknown quantization '{quantize}' (use {spoken(QUANTIZATIONS)})")
    if quantize == "int8" and device.type != "cpu":
        raise SeqattnError("--quantize int8 runs on the CPU only (use --device cpu)")
    if quantize == "int8" and int8_engine() is None:
        raise SeqattnError("--quantize int8: this PyTorch build has no quantized CPU engine "
                           "(fbgemm, x86, qnnpack or onednn); decode with --precision fp32")


def decoding_copy(model: Seq2Seq, policy: Precision, quantize: str | None) -> torch.nn.Module:
    """The weights to decode with, in eval mode; `model` itself when no copy is needed."""
    model.eval()
    if quantize == "int8":
        return quantize_int8(model)
    dtype = policy.decoding_dtype
    if dtype == torch.bfloat16:
        return pack_bf16(model)  # weights prepacked for oneDNN on the CPU
    if dtype is not None:
        return copy.deepcopy(model).to(dtype).eval()
    return model
