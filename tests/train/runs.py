"""Helpers for the reliability tests: one reference config, and bit-level comparison of runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from seqattn.config import Config
from tests.conftest import tiny_config

# dropout, scheduled sampling and a plateau schedule: everything resume has to restore
RELIABILITY = ["train.max_steps=30", "train.val_every=10", "train.heatmaps=0", "train.batch_size=8",
               "model.encoder.dropout=0.2", "model.decoder.dropout=0.2", "train.scheduled_sampling=0.2",
               "train.schedule.patience=0", "train.keep_checkpoints=2", "train.device=cpu",
               "train.num_threads=1"]  # one thread: steady speed while other work shares the CPU


@contextlib.contextmanager
def threads_restored() -> Iterator[None]:
    """Undo the thread count that training with `train.num_threads` sets for the whole process."""
    before = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def one_thread() -> Iterator[None]:
    with threads_restored():
        yield


def reliability_config(folder: Path, extra: list[str] = ()) -> Config:
    return tiny_config(folder, [*RELIABILITY, *extra])


def kill_resume_module():
    """benchmarks/kill_resume.py (the tests reuse its kill hooks and comparisons)."""
    from benchmarks import kill_resume

    return kill_resume


def final_tensors(run_dir: Path) -> dict:
    return kill_resume_module().final_tensors(run_dir)


def assert_bit_identical(a: Path | dict, b: Path | dict) -> None:
    """Best and last weights, optimizer and RNG state of two runs are equal in every bit."""
    ta = a if isinstance(a, dict) else final_tensors(a)
    tb = b if isinstance(b, dict) else final_tensors(b)
    diff = kill_resume_module().differences(ta, tb)
    assert not diff, f"{len(diff)} tensors differ, e.g. {diff[:3]}"
