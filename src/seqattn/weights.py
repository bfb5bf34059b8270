"""Model weights in safetensors (never a pickle), written atomically, read with clear errors."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from seqattn.atomic import atomic_write_bytes
from seqattn.errors import SeqattnError

BEST_WEIGHTS = "model.safetensors"


def tensors_to_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    # clone: tied parameters share storage, which safetensors refuses
    return st_save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, metadata)


def read_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    try:
        return st_load(path.read_bytes())
    except FileNotFoundError:
        raise SeqattnError(f"{path}: file not found") from None
    except (SafetensorError, ValueError, OSError) as exc:
        raise SeqattnError(f"{path}: not a readable safetensors file ({exc})") from None


def save_weights(model: torch.nn.Module, path: str | Path) -> None:
    atomic_write_bytes(path, tensors_to_bytes(model.state_dict()))


def load_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load weights, checking that names and shapes match the model built from the config."""
    tensors = read_tensors(path)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    bad = [k for k in expected if k in tensors and tensors[k].shape != expected[k].shape]
    if missing or extra or bad:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra
                  else f"shape of {bad[0]} is {tuple(tensors[bad[0]].shape)}, config gives "
                  f"{tuple(expected[bad[0]].shape)}")
        raise SeqattnError(f"{path}: weights do not match the run's config ({detail})")
    model.load_state_dict(tensors)
