"""The precision policy: which numbers a process computes in, decided once.

`decide(requested, device, purpose)` turns a request ('auto', 'fp32', 'bf16', 'fp16') into
one `Precision` that everything else reads: the compute dtype, the autocast context, the
dtype of the decoding copy of the weights, the loss-scaling default and the row multiples
that keep oneDNN's kernel cache small. 'auto' is decided from what the hardware really
runs, by `probe_bf16`: a tiny bf16 LSTM is tried on the device (forward and backward under
autocast, and forward with bf16 weights), and on the CPU bf16 counts as native only where
the CPU has bf16 instructions (AVX512-BF16 or AMX) and oneDNN is not capped below them
(`ONEDNN_MAX_CPU_ISA`). A CPU flag alone is not enough: oneDNN can refuse a bf16 LSTM on a
CPU that reports AVX512-BF16 (e.g. under `ONEDNN_MAX_CPU_ISA=AVX2`); and without bf16
instructions bf16 products are emulated, slower than fp32. The probe never times anything,
so one machine always decides the same (a resumed run computes as its first part did).

An explicit request the hardware cannot serve is a `SeqattnError` naming what is missing;
one it serves only by emulation runs, with a warning.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from dataclasses import dataclass
from typing import Literal

import torch

from seqattn.choices import PRECISIONS, ComputePrecision, spoken
from seqattn.errors import SeqattnError

log = logging.getLogger("seqattn")

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
Purpose = Literal["train", "decode"]


@dataclass(frozen=True)
class Bf16Support:
    """What the probe found for bf16 on one device."""

    trains: bool  # an LSTM forward + backward under bf16 autocast runs
    decodes: bool  # an LSTM with bf16 weights runs forward
    native: bool  # both run, on bf16 instructions (not emulated)
    detail: str  # one line for logs and errors

    def serves(self, purpose: Purpose) -> bool:
        """Training needs both (validation decodes); decoding needs the forward pass only."""
        return self.trains and self.decodes if purpose == "train" else self.decodes


def _lstm_runs(device: torch.device, train: bool) -> str | None:
    """None when a small bf16 LSTM runs on `device`, else the error's first line."""
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        lstm = torch.nn.LSTM(32, 32, batch_first=True).to(device)
    x = torch.randn(4, 6, 32, generator=gen).to(device)
    try:
        if train:
            x.requires_grad_()
            with torch.autocast(device.type, dtype=torch.bfloat16):
                out, _ = lstm(x)
            out.float().sum().backward()
        else:
            with torch.inference_mode():
                lstm.bfloat16()(x.bfloat16())
    except RuntimeError as exc:  # oneDNN: "could not create a primitive descriptor ... Run ..."
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return first.split(". Run workload")[0]
    return None


# oneDNN's ISA names (ONEDNN_MAX_CPU_ISA) that keep its bf16 instructions: AVX512_CORE_BF16 and later
_BF16_ISA_WORDS = ("BF16", "FP16", "AMX", "AVX10", "DEFAULT", "ALL")


def _onednn_cap() -> str | None:
    return os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or None


def _cpu_isa() -> str:
    """ATen's CPU capability, and oneDNN's cap when ONEDNN_MAX_CPU_ISA lowers it."""
    isa = torch.backends.cpu.get_cpu_capability()
    cap = _onednn_cap()
    return f"{isa}, oneDNN capped at {cap}" if cap else isa


def _cpu_bf16_instructions() -> str | None:
    """The CPU's bf16 instructions oneDNN may use ('AMX', 'AVX512-BF16'), or None."""
    cap = _onednn_cap()
    if cap and not any(word in cap.upper() for word in _BF16_ISA_WORDS):
        return None
    if torch.cpu._is_amx_tile_supported():
        return "AMX"
    if torch.cpu._is_avx512_bf16_supported():
        return "AVX512-BF16"
    return None


@functools.lru_cache(maxsize=4)
def probe_bf16(device: torch.device) -> Bf16Support:
    """Try bf16 on `device` (once per process and device): does an LSTM train and decode in
    bf16, and does the hardware have bf16 instructions?"""
    device = torch.device(device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return Bf16Support(False, False, False, "no CUDA device")
        major, minor = torch.cuda.get_device_capability(device)
        train_error, decode_error = _lstm_runs(device, True), _lstm_runs(device, False)
        native = major >= 8 and not train_error and not decode_error  # bf16 tensor cores: sm80+
        return Bf16Support(not train_error, not decode_error, native,
                           f"{torch.cuda.get_device_name(device)} (sm{major}{minor}): "
                           + (train_error or decode_error or ("bf16 native" if native else
                                                              "bf16 emulated (before sm80)")))
    if device.type != "cpu":
        return Bf16Support(False, False, False, f"bf16 is not probed on {device.type}")
    train_error, decode_error = _lstm_runs(device, True), _lstm_runs(device, False)
    instructions, isa = _cpu_bf16_instructions(), _cpu_isa()
    found = (f"{instructions} instructions (native)" if instructions else
             "no bf16 instructions oneDNN may use (emulated)") + f", CPU capability {isa}"
    if train_error or decode_error:
        kind = "training " if decode_error is None else ""
        detail = f"oneDNN has no bf16 LSTM {kind}kernel for this CPU ({train_error or decode_error}); {found}"
    else:
        detail = found
    return Bf16Support(not train_error, not decode_error,
                       bool(instructions) and not train_error and not decode_error, detail)


@dataclass(frozen=True)
class Precision:
    """How one process computes: everything that depends on the precision, in one place."""

    name: ComputePrecision
    device: torch.device
    requested: str = "fp32"  # what was asked for ('auto' included)
    why: str = ""  # how 'auto' decided, or what the probe said

    @property
    def dtype(self) -> torch.dtype:
        """The compute dtype of matrix products (parameters stay fp32 in training)."""
        return DTYPES[self.name]

    @property
    def half(self) -> bool:
        return self.name != "fp32"

    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed-precision autocast for training steps and perplexity; a no-op in fp32."""
        if not self.half:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    @property
    def decoding_dtype(self) -> torch.dtype | None:
        """dtype of the decoding copy of the weights (None: decode with the fp32 weights)."""
        return self.dtype if self.half else None

    @property
    def loss_scaling(self) -> bool:
        """Default for `train.loss_scaling`: fp16 needs it, bf16 has fp32's range."""
        return self.name == "fp16"

    @property
    def on_cpu_bf16(self) -> bool:
        return self.name == "bf16" and self.device.type == "cpu"

    @property
    def train_row_multiple(self) -> int:
        """Output-layer rows are rounded up to this: oneDNN compiles one bf16 kernel per shape."""
        return 64 if self.on_cpu_bf16 else 1

    @property
    def decode_row_multiple(self) -> int:
        """Decoding batches are padded to this many rows, for the same reason."""
        return 8 if self.on_cpu_bf16 else 1

    def __str__(self) -> str:
        return self.name if self.requested != "auto" else f"{self.name} (auto: {self.why})"


def decide(requested: str, device: torch.device, purpose: Purpose = "train") -> Precision:
    """The policy for `requested` on `device`, for training or for decoding.

    'auto' is bf16 where the probe finds it native, else fp32. An explicit 'bf16' the
    hardware cannot run, or 'fp16' off CUDA, raises `SeqattnError`; an explicit 'bf16' that
    runs only by emulation is kept, with a warning that fp32 is faster.
    """
    device = torch.device(device)
    if requested not in PRECISIONS:
        raise SeqattnError(f"unknown precision '{requested}' (use {spoken(PRECISIONS)})")
    if requested == "fp32":
        return Precision("fp32", device, requested)
    if requested == "fp16":
        if device.type != "cuda":
            raise SeqattnError("precision fp16 runs on CUDA only (oneDNN has no fp16 LSTM on the "
                               "CPU); use bf16 or fp32 on the CPU")
        return Precision("fp16", device, requested)
    support = probe_bf16(device)
    if requested == "auto":
        name = "bf16" if support.native and support.serves(purpose) else "fp32"
        return Precision(name, device, requested, support.detail)
    what = "training" if purpose == "train" else "decoding"
    if not support.serves(purpose):
        raise SeqattnError(f"precision bf16: this {device.type.upper()} cannot run bf16 {what} "
                           f"({support.detail}); use precision fp32 or auto")
    if not support.native:
        log.warning("warning: bf16 is emulated on this %s (%s); fp32 is faster here "
                    "(precision auto picks it)", device.type.upper(), support.detail)
    return Precision("bf16", device, requested, support.detail)


def int8_engine() -> str | None:
    """The quantized engine int8 decoding will use on the CPU, or None where there is none."""
    engines = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    for preferred in ("x86", "fbgemm", "qnnpack", "onednn"):
        if preferred in engines:
            return preferred
    return engines[0] if engines else None
