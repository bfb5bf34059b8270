"""Where tensors run: the device, the thread count, the allocator (precision: `precision.py`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import torch

from seqattn.choices import DEVICES, spoken
from seqattn.errors import SeqattnError


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA when present, else the CPU; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SeqattnError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    if name not in DEVICES:
        raise SeqattnError(f"unknown device '{name}' (use {spoken(DEVICES)})")
    return torch.device(name)


def memory_bytes(device: torch.device) -> int | None:
    """The memory of `device`: the GPU's, or the machine's physical memory (None: unknown)."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX
        return None


def check_fits(parameters: int, bytes_per_parameter: int, device: torch.device, what: str,
               largest: str | None = None) -> None:
    """A clear error when `parameters` x `bytes_per_parameter` exceed the device's memory (or,
    where that is unknown, 2**63 bytes); `largest` names the size setting that adds the most."""
    need, have = parameters * bytes_per_parameter, memory_bytes(device)
    if need <= (have if have is not None else 2**63 - 1):
        return
    than = f"the {have / 2**30:,.1f} GiB of this {device.type.upper()}" if have is not None else "any memory"
    hint = f" ({largest} adds the most)" if largest else ""
    raise SeqattnError(f"{what}: {parameters:,} parameters need {need / 2**30:,.1f} GiB "
                       f"({bytes_per_parameter} bytes each), more than {than}; make the model smaller{hint}")


def set_threads(n: int | None) -> None:
    if n is not None:
        torch.set_num_threads(n)


_ALLOCATOR_TUNED = False


def tune_allocator() -> bool:
    """Keep freed memory in the process instead of returning it to the OS (glibc only).

    A training step allocates several (tokens, vocab) buffers of tens of MB. glibc serves
    those with fresh mmap'ed pages, so every step pays page faults and kernel zeroing for
    them, which makes elementwise work on such buffers several times slower. With mmap off
    and trim off, the heap is reused. Memory is not handed back until the process ends; peak RSS is
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
