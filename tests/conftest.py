"""Shared fixtures: tiny synthetic corpora and tiny model configs that train in seconds."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import torch

from seqattn.config import Config, build_config

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
WORDS = "alpha beta gamma delta omega sigma kappa theta zeta lambda".split()
UPPER = {w: w.upper() for w in WORDS}

torch.set_num_threads(1)  # tiny models: a second thread only adds sync overhead (10-50x under load)


@pytest.fixture
def side_by_side_cores():
    """A study's arms train side by side in spawned processes with one thread each, on up to two
    cores, as users run them (at the suite's one thread they would train one after another)."""
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    yield
    torch.set_num_threads(before)


def synthetic_pairs(n: int, seed: int = 0, min_len: int = 2, max_len: int = 6) -> list[tuple[str, str]]:
    """Source: random words; target: the same words upper-cased, in reverse order."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(min_len, max_len))]
        pairs.append((" ".join(words), " ".join(UPPER[w] for w in reversed(words))))
    return pairs


def write_pairs(folder: Path, name: str, pairs: list[tuple[str, str]]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = folder / f"{name}.src", folder / f"{name}.tgt"
    src.write_text("".join(s + "\n" for s, _ in pairs), encoding="utf-8")
    tgt.write_text("".join(t + "\n" for _, t in pairs), encoding="utf-8")
    return {"src": str(src), "tgt": str(tgt)}


def tiny_tree(folder: Path, n_train: int = 200, **model) -> dict:
    """A config mapping for a tiny model on synthetic data under `folder`."""
    return {
        "name": "tiny",
        "data": {
            "train": write_pairs(folder, "train", synthetic_pairs(n_train, seed=1)),
            "dev": write_pairs(folder, "dev", synthetic_pairs(20, seed=2)),
            "test": write_pairs(folder, "test", synthetic_pairs(20, seed=3)),
            "subword": {"type": "bpe", "vocab_size": 60, "joint": True},
        },
        "model": {
            "encoder": {"emb_size": 16, "hidden_size": 16, "dropout": 0.0},
            "decoder": {"emb_size": 16, "hidden_size": 32, "dropout": 0.0},
            "attention": {"type": "general"},
            **model,
        },
        "train": {"batch_size": 16, "lr": 0.01, "max_steps": 30, "val_every": 15, "log_every": 5,
                  "early_stopping_patience": None, "seed": 3, "samples": ["alpha beta gamma"],
                  "precision": "fp32"},  # the reference numerics; bf16 has its own tests
        "decode": {"beam": 3, "batch_size": 8},
    }


def tiny_config(folder: Path, overrides: list[str] = (), **model) -> Config:
    return build_config(tiny_tree(folder, **model), overrides)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One tiny trained run directory, shared by the translator and CLI tests."""
    from seqattn.train import train

    folder = tmp_path_factory.mktemp("tiny")
    cfg = tiny_config(folder / "data", ["train.max_steps=40"])
    train(cfg, folder / "run")
    return folder / "run"
