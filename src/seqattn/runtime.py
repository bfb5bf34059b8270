"""Where and how tensors run: device choice, threads, mixed precision."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import sys

import torch

from seqattn.errors import SeqattnError

HALF_TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SeqattnError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise SeqattnError(f"unknown device '{name}' (use auto, cpu or cuda)")
    return torch.device(name)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 or fp16 autocast when asked for, else a no-op."""
    dtype = HALF_TYPES.get(precision)
    return torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()


def set_threads(n: int | None) -> None:
    if n is not None:
        torch.set_num_threads(n)


_ALLOCATOR_TUNED = False


def tune_allocator() -> bool:
    """Keep freed memory in the process instead of returning it to the OS (glibc only).

    A training step allocates several (tokens, vocab) buffers of tens of MB. glibc serves
    those with fresh mmap'ed pages, so every step pays page faults and kernel zeroing for
    them: about 2.7x slower elementwise work on such buffers here. With mmap off and trim
    off, the heap is reused. Memory is not handed back until the process ends; peak RSS is
    unchanged. Returns True when the setting was applied.
    """
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or not sys.platform.startswith("linux"):
        return _ALLOCATOR_TUNED
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
        _ALLOCATOR_TUNED = bool(libc.mallopt(m_mmap_max, 0)) and bool(
            libc.mallopt(m_trim_threshold, 2**31 - 1))
    except (OSError, AttributeError):  # not glibc (musl, ...): leave the allocator alone
        return False
    return _ALLOCATOR_TUNED


def bf16_supported(device: torch.device) -> bool:
    """True where bf16 matrix products run natively: CUDA with bf16, or a CPU with
    AVX512-BF16 or AMX (on other CPUs bf16 is emulated and slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_precision(name: str, device: torch.device) -> str:
    """'auto' -> 'bf16' where supported natively, else 'fp32'; other names pass through.
    fp16 is for CUDA only: oneDNN has no fp16 LSTM on the CPU."""
    if name == "auto":
        return "bf16" if bf16_supported(device) else "fp32"
    if name not in ("fp32", "bf16", "fp16"):
        raise SeqattnError(f"unknown precision '{name}' (use auto, fp32, bf16 or fp16)")
    if name == "fp16" and device.type != "cuda":
        raise SeqattnError("precision fp16 runs on CUDA only (the CPU has no fp16 LSTM kernels); "
                           "use bf16 or fp32 on the CPU")
    return name
