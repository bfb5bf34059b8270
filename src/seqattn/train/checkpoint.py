"""Training checkpoints: safetensors + JSON only, each file atomic, the previous one kept.

Layout inside a run directory:
  checkpoints/step_00001000/model.safetensors      weights
  checkpoints/step_00001000/optimizer.safetensors  optimizer tensors and RNG state
  checkpoints/step_00001000/trainer_state.json     step, data position, schedule, scores
  checkpoints/latest.json                          names the newest complete checkpoint
A checkpoint counts only once `latest.json` names it, and that file is written last.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from seqattn import __version__
from seqattn.atomic import atomic_write_bytes, atomic_write_text, fsync_dir
from seqattn.errors import SeqattnError
from seqattn.weights import load_weights, read_tensors, save_weights, tensors_to_bytes

log = logging.getLogger("seqattn")
LATEST = "latest.json"


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"state.{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                       meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("state."):
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for name, value in meta["scalars"].items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    trainer_state: dict[str, Any], keep: int) -> Path:
    """Write a complete checkpoint for `trainer_state['step']`, then point latest.json at it."""
    folder.mkdir(parents=True, exist_ok=True)
    name = f"step_{trainer_state['step']:08d}"
    target = folder / name
    target.mkdir(exist_ok=True)
    save_weights(model, target / "model.safetensors")
    tensors, meta = _optimizer_tensors(optimizer)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    atomic_write_bytes(target / "optimizer.safetensors", tensors_to_bytes(tensors))
    state = {**trainer_state, "optimizer": meta, "version": __version__}
    atomic_write_text(target / "trainer_state.json", json.dumps(state, indent=1))
    fsync_dir(target)
    atomic_write_text(folder / LATEST, json.dumps({"dir": name, "step": trainer_state["step"]}))
    old = sorted(p for p in folder.glob("step_*") if p.is_dir() and p.name != name)
    for stale in old[: max(0, len(old) - (keep - 1))]:
        shutil.rmtree(stale, ignore_errors=True)
    return target


def latest_checkpoint(folder: Path) -> Path | None:
    pointer = folder / LATEST
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text())["dir"]
    except (ValueError, KeyError) as exc:
        raise SeqattnError(f"{pointer}: unreadable checkpoint pointer ({exc})") from None
    return folder / name


def load_checkpoint(target: Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model, optimizer and RNG state; return the trainer state."""
    state_file = target / "trainer_state.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError) as exc:
        raise SeqattnError(f"{state_file}: unreadable trainer state ({exc})") from None
    load_weights(model, target / "model.safetensors")
    tensors = read_tensors(target / "optimizer.safetensors")
    _restore_optimizer(optimizer, tensors, state.pop("optimizer"))
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return state
