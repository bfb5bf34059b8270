"""Training checkpoints: safetensors + JSON only, each file atomic, the previous one kept.

Layout inside a run directory:
  checkpoints/step_00001000/model.safetensors      weights
  checkpoints/step_00001000/optimizer.safetensors  optimizer tensors and RNG state
  checkpoints/step_00001000/trainer_state.json     step, data position, schedule, scores,
                                                   format version, sha256 of both files
  checkpoints/latest.json                          names the newest complete checkpoint
A checkpoint counts only once `latest.json` names it, and that file is written last; older
checkpoints are deleted only after that. Loading checks the format and the checksums, and
`restore_latest` falls back to the previous checkpoint (with a warning) when one is unusable.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from seqattn.atomic import atomic_write_bytes, atomic_write_text, fsync_dir, make_dirs, remove_stale_temps
from seqattn.errors import SeqattnError
from seqattn.version import __version__
from seqattn.weights import load_weights, read_tensors, save_weights, sha256, tensors_to_bytes

log = logging.getLogger("seqattn")
LATEST = "latest.json"
MODEL, OPTIMIZER, STATE = "model.safetensors", "optimizer.safetensors", "trainer_state.json"
CHECKPOINT_FORMAT = 1  # bump when the layout or the meaning of trainer_state changes
_STEP_DIR = re.compile(r"step_(\d+)$")


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


def _step_of(path: Path) -> int | None:
    match = _STEP_DIR.match(path.name)
    return int(match.group(1)) if match and path.is_dir() else None


def _step_dirs(folder: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every step_* folder, newest first."""
    found = [(_step_of(p), p) for p in folder.glob("step_*")] if folder.is_dir() else []
    return sorted(((s, p) for s, p in found if s is not None), reverse=True)


def latest_checkpoint(folder: Path) -> Path | None:
    """The checkpoint `latest.json` names, or None before the first one."""
    pointer = folder / LATEST
    if not pointer.is_file():
        return None
    try:
        name = json.loads(pointer.read_text(encoding="utf-8"))["dir"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SeqattnError(f"{pointer}: unreadable checkpoint pointer ({exc})") from None
    if not isinstance(name, str) or not _STEP_DIR.match(name):
        raise SeqattnError(f"{pointer}: names '{name}', which is not a checkpoint folder")
    return folder / name


def _prune(folder: Path, current: Path, step: int, keep: int) -> None:
    """Keep the `keep` newest checkpoints up to `step`; drop any from an abandoned later timeline."""
    older = []
    for other_step, other in _step_dirs(folder):
        if other == current:
            continue
        if other_step > step:
            shutil.rmtree(other, ignore_errors=True)
        else:
            older.append(other)
    for stale in older[max(0, keep - 1):]:
        shutil.rmtree(stale, ignore_errors=True)


def save_checkpoint(folder: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    trainer_state: dict[str, Any], keep: int) -> Path:
    """Write a complete checkpoint for `trainer_state['step']`, then point latest.json at it.

    On any failure (full disk, unwritable folder, NaN weights) the previous checkpoint stays
    the latest one, and the error says so.
    """
    step = int(trainer_state["step"])
    target = folder / f"step_{step:08d}"
    try:
        previous = latest_checkpoint(folder)
    except SeqattnError:
        previous = None
    try:
        make_dirs(target)
        remove_stale_temps(target)
        digests = {MODEL: save_weights(model, target / MODEL)}
        tensors, meta = _optimizer_tensors(optimizer)
        tensors["rng.torch"] = torch.get_rng_state()
        if torch.cuda.is_available():
            tensors["rng.cuda"] = torch.cuda.get_rng_state()
        data = tensors_to_bytes(tensors)
        atomic_write_bytes(target / OPTIMIZER, data)
        digests[OPTIMIZER] = sha256(data)
        state = {**trainer_state, "optimizer": meta, "format": CHECKPOINT_FORMAT,
                 "version": __version__, "sha256": digests}
        atomic_write_text(target / STATE, json.dumps(state, indent=1))
        fsync_dir(target)
        atomic_write_text(folder / LATEST, json.dumps({"dir": target.name, "step": step}))
    except SeqattnError as exc:
        kept = f"the last complete checkpoint, {previous}, is intact" if previous else "no checkpoint yet"
        raise SeqattnError(f"checkpoint at step {step} not saved: {exc}; {kept}") from exc
    _prune(folder, target, step, keep)
    return target


def _read_state(target: Path) -> dict[str, Any]:
    state_file = target / STATE
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeqattnError(f"{state_file}: missing (incomplete checkpoint)") from None
    except (OSError, ValueError) as exc:
        raise SeqattnError(f"{state_file}: unreadable trainer state ({exc})") from None
    if not isinstance(state, dict):
        raise SeqattnError(f"{state_file}: unreadable trainer state (not a JSON object)")
    fmt = state.get("format", 1)  # checkpoints from before the field are format 1
    if fmt != CHECKPOINT_FORMAT:
        raise SeqattnError(f"{state_file}: written by seqattn {state.get('version', '?')} in "
                           f"checkpoint format {fmt}; this seqattn {__version__} reads format "
                           f"{CHECKPOINT_FORMAT}")
    missing = [k for k in ("step", "progress", "schedule", "optimizer") if k not in state]
    if missing:
        raise SeqattnError(f"{state_file}: unreadable trainer state (no {', '.join(missing)})")
    return state


def load_checkpoint(target: Path, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Restore model, optimizer and RNG state; return the trainer state."""
    state = _read_state(target)
    digests = state.pop("sha256", {})
    tensors = read_tensors(target / OPTIMIZER, digests.get(OPTIMIZER))
    if "rng.torch" not in tensors:
        raise SeqattnError(f"{target / OPTIMIZER}: no RNG state (not a seqattn checkpoint?)")
    load_weights(model, target / MODEL, digests.get(MODEL))
    try:
        _restore_optimizer(optimizer, tensors, state.pop("optimizer"))
    except (ValueError, KeyError, TypeError) as exc:
        raise SeqattnError(f"{target / OPTIMIZER}: does not fit this model's optimizer ({exc})") from None
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return state


def checkpoint_candidates(folder: Path) -> list[Path]:
    """Checkpoints to try when resuming, best first: the latest, then older complete ones.

    Folders newer than the one `latest.json` names were being written when the run stopped.
    """
    dirs = _step_dirs(folder)
    try:
        latest = latest_checkpoint(folder)
    except SeqattnError as exc:
        log.warning("%s; looking for the newest readable checkpoint instead", exc)
        latest = None
    if latest is None:
        return [p for _, p in dirs if (p / STATE).is_file()]
    limit = _step_of(latest) if latest.is_dir() else None
    older = [p for s, p in dirs if limit is None or s < limit]
    return [latest, *older]


def restore_latest(folder: Path, model: torch.nn.Module,
                   optimizer: torch.optim.Optimizer) -> tuple[Path, dict[str, Any]] | None:
    """Load the newest usable checkpoint (warning about each unusable newer one); None if none exist."""
    candidates = checkpoint_candidates(folder)
    if not candidates:
        return None
    problems = []
    for target in candidates:
        try:
            state = load_checkpoint(target, model, optimizer)
        except SeqattnError as exc:
            problems.append(str(exc))
            log.warning("warning: %s; trying the previous checkpoint", exc)
            continue
        if problems:
            log.warning("warning: resuming from the previous good checkpoint, %s", target)
        return target, state
    older = len(problems) - 1
    more = f" (and {older} older checkpoint{'s' if older > 1 else ''} unusable)" if older else ""
    raise SeqattnError(f"cannot resume: {problems[0]}{more}")
