"""The run directory: its layout, and the one place that names, opens, checks and writes it.

    RUN_DIR/
      config.yaml            the resolved config (written first: a run killed during setup resumes)
      spm.model              SentencePiece, joint; or spm.src.model + spm.tgt.model
                             (vocab.json / vocab.src.json / vocab.tgt.json for char or symbols)
      model.safetensors      the best weights by the early-stopping metric
      best.json              the step and dev scores of those weights
      checkpoints/           the last and the previous: weights, optimizer, RNG, data position
      metrics.csv            every logged training window, validation and the test scores
      tensorboard/           the same scalars, and the attention heatmaps, for TensorBoard
      train.log              the log of every session of the run
      attention/step_N/devK.png  heatmaps of the first K dev sentences at each validation
      results.json           why training stopped, progress, test scores, sample translations
      prepared/              training data encoded for streaming (large corpora only)
      writer.lock            while a process writes the run: its lock (`seqattn.lock`)

Training, checkpoints, the translator, the CLI, the server and the studies all find these
files through `RunDir`; no other module spells a file name of the run directory.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqattn.atomic import atomic_write_text
from seqattn.config import Config, build_config, dump_config, read_yaml
from seqattn.errors import SeqattnError
from seqattn.lock import WriterLock

CONFIG = "config.yaml"
WEIGHTS = "model.safetensors"
SPM_JOINT, SPM_SRC, SPM_TGT = "spm.model", "spm.src.model", "spm.tgt.model"
VOCAB_JOINT, VOCAB_SRC, VOCAB_TGT = "vocab.json", "vocab.src.json", "vocab.tgt.json"
LOCK = "writer.lock"
ATTENTION = "attention"
_ATTENTION_STEP = re.compile(r"step_(\d{1,12})")  # written zero-padded to 8 digits; read any
_ATTENTION_MAP = re.compile(r"dev(\d{1,4})\.png")


def vocab_files(folder: Path) -> tuple[Path] | tuple[Path, Path] | None:
    """The vocabulary file(s) in `folder`: one joint file, or source and target; None if absent."""
    for joint in (SPM_JOINT, VOCAB_JOINT):
        if (folder / joint).is_file():
            return (folder / joint,)
    src = next((folder / n for n in (SPM_SRC, VOCAB_SRC) if (folder / n).is_file()), None)
    tgt = next((folder / n for n in (SPM_TGT, VOCAB_TGT) if (folder / n).is_file()), None)
    return (src, tgt) if src is not None and tgt is not None else None


def attention_map_name(k: int) -> str:
    """The file name of the heatmap of the k-th dev sentence (from 1) in a step folder."""
    return f"dev{k}.png"


def attention_step(folder_name: str) -> int | None:
    """The step of a heatmap folder's name ('step_00000500' -> 500); None for another name."""
    m = _ATTENTION_STEP.fullmatch(folder_name)
    return int(m.group(1)) if m else None


def attention_map_index(file_name: str) -> int | None:
    """k of a heatmap's file name ('dev3.png' -> 3); None for another name."""
    m = _ATTENTION_MAP.fullmatch(file_name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class RunDir:
    """A run directory at `path` (which may not exist yet)."""

    path: Path

    def __init__(self, path: str | Path):
        object.__setattr__(self, "path", Path(path))

    def __str__(self) -> str:
        return str(self.path)

    # ------------------------------------------------------------------ names
    @property
    def config(self) -> Path:
        return self.path / CONFIG

    @property
    def weights(self) -> Path:
        return self.path / WEIGHTS

    @property
    def best(self) -> Path:
        return self.path / "best.json"

    @property
    def results(self) -> Path:
        return self.path / "results.json"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def log(self) -> Path:
        return self.path / "train.log"

    @property
    def prepared(self) -> Path:
        return self.path / "prepared"

    def writer_lock(self) -> WriterLock:
        """The lock the one process writing this run holds (readers never take it)."""
        return WriterLock(self.path / LOCK, self.path, "run")

    @property
    def attention_maps(self) -> Path:
        """The folder of every validation's heatmaps (`attention(step)` below it)."""
        return self.path / ATTENTION

    def attention(self, step: int) -> Path:
        """The folder of the heatmaps drawn at validation step `step`."""
        return self.attention_maps / f"step_{step:08d}"

    def attention_map(self, step: int, k: int) -> Path:
        """The heatmap of the k-th dev sentence (from 1) drawn at validation step `step`."""
        return self.attention(step) / attention_map_name(k)

    # ------------------------------------------------------------------ checks
    @classmethod
    def open(cls, path: str | Path) -> RunDir:
        """An existing run directory; a `SeqattnError` when it is missing or not a run."""
        run = cls(path)
        if not run.path.is_dir():
            raise SeqattnError(f"{run.path}: run directory not found")
        if not run.config.is_file():
            raise SeqattnError(f"{run.path}: not a seqattn run directory (no {CONFIG})")
        return run

    def check_new(self) -> None:
        """A new run must not land in a directory that already holds something."""
        if self.path.exists() and not self.path.is_dir():
            raise SeqattnError(f"{self.path}: exists and is not a directory (give another --out)")
        holder = self.writer_lock().holder() if self.path.is_dir() else None
        if holder:
            raise self.writer_lock().refusal(holder)
        if self.path.is_dir() and any(p.name != LOCK for p in self.path.iterdir()):
            raise SeqattnError(f"{self.path}: already exists and is not empty "
                               "(use --resume to continue it, or another --out)")

    def has_subwords(self) -> bool:
        """Whether the directory holds its complete vocabulary (SentencePiece model(s) or vocab files)."""
        return vocab_files(self.path) is not None

    # ------------------------------------------------------------------ reading and writing
    def read_config(self, overrides: Sequence[str] = ()) -> Config:
        """The run's config, with `overrides` (dotted key=value) applied."""
        return build_config(read_yaml(self.config), overrides, source=str(self.config))

    def write_config(self, cfg: Config) -> None:
        atomic_write_text(self.config, dump_config(cfg))

    def write_json(self, path: Path, payload: dict[str, Any]) -> None:
        """Write one of the run's JSON files (`best`, `results`) atomically."""
        atomic_write_text(path, json.dumps(payload, indent=1, ensure_ascii=False))
