"""Model weights in safetensors (never a pickle), written atomically, read with clear errors.

Every file carries `seqattn.format` in its safetensors metadata; a file from an incompatible
version, a truncated or corrupt file, weights that do not fit the config, and weights with
NaN/inf values are refused with a message naming the file.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from seqattn.atomic import atomic_write_bytes
from seqattn.errors import SeqattnError
from seqattn.version import __version__

WEIGHTS_FORMAT = "1"  # bump when the meaning of saved tensors changes


def tensors_to_bytes(tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """Serialise tensors (and string metadata) to safetensors bytes, tagged with our format."""
    meta = {"seqattn.format": WEIGHTS_FORMAT, "seqattn.version": __version__, **(metadata or {})}
    # clone: tied parameters share storage, which safetensors refuses
    return st_save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}, meta)


def header_metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` of safetensors bytes ({} when absent or unreadable)."""
    if len(data) < 8:
        return {}
    (size,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8 : 8 + size])
    except (ValueError, UnicodeDecodeError):
        return {}
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


MAX_HEADER = 100 * 2**20  # safetensors headers are a few KB; a larger one is not ours


def read_header(path: Path) -> dict[str, dict]:
    """The tensor table of a safetensors file ({name: {dtype, shape, data_offsets}}), read and
    checked against the file's size without reading the tensors."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            fh.seek(0)
            prefix = fh.read(8)
            (length,) = struct.unpack("<Q", prefix) if len(prefix) == 8 else (-1,)
            if not 0 < length <= min(MAX_HEADER, size - 8):
                raise SeqattnError(f"{path}: not a readable safetensors file, truncated or corrupt "
                                   f"(header length {length:,} in a file of {size:,} bytes)")
            header = json.loads(fh.read(length))
    except FileNotFoundError:
        raise SeqattnError(f"{path}: file not found") from None
    except OSError as exc:
        raise SeqattnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, UnicodeDecodeError):
        raise SeqattnError(f"{path}: not a readable safetensors file, truncated or corrupt "
                           "(its header is not JSON)") from None
    table = {k: v for k, v in header.items() if k != "__metadata__"} if isinstance(header, dict) else None
    try:
        end = max((int(v["data_offsets"][1]) for v in table.values()), default=0)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        raise SeqattnError(f"{path}: not a readable safetensors file, truncated or corrupt "
                           "(its header lists no tensor table)") from None
    if 8 + length + end != size:
        raise SeqattnError(f"{path}: not a readable safetensors file, truncated or corrupt (the file has "
                           f"{size:,} bytes, its header describes {8 + length + end:,})")
    return table


def read_tensors(path: str | Path, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file; check its digest when one is given, and its format tag."""
    path = Path(path)
    read_header(path)  # (before reading the whole file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SeqattnError(f"{path}: file not found") from None
    except OSError as exc:
        raise SeqattnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if expected_sha256 is not None and sha256(data) != expected_sha256:
        raise SeqattnError(f"{path}: corrupt or truncated ({len(data)} bytes; its checksum does not "
                           "match the one recorded when it was written)")
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, OSError) as exc:
        raise SeqattnError(f"{path}: not a readable safetensors file, truncated or corrupt ({exc})") from None
    meta = header_metadata(data)
    found = meta.get("seqattn.format", WEIGHTS_FORMAT)  # files from before the tag are format 1
    if found != WEIGHTS_FORMAT:
        raise SeqattnError(f"{path}: written by seqattn {meta.get('seqattn.version', '?')} in weights "
                           f"format {found}; this seqattn {__version__} reads format {WEIGHTS_FORMAT}")
    return tensors


def first_non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding NaN or inf, else None."""
    for name, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            return name
    return None


def save_weights(model: torch.nn.Module, path: str | Path) -> str:
    """Write the model's weights atomically and return their sha256; NaN/inf weights are refused."""
    state = model.state_dict()
    bad = first_non_finite(state)
    if bad is not None:
        raise SeqattnError(f"{path}: not saved: the weights hold NaN or inf values ({bad}); training "
                           "diverged (lower train.lr or raise train.clip_norm)")
    data = tensors_to_bytes(state)
    atomic_write_bytes(path, data)
    return sha256(data)


def load_weights(model: torch.nn.Module, path: str | Path, expected_sha256: str | None = None) -> None:
    """Load weights, checking that names and shapes match the model built from the config
    (from the file's header, before its tensors are read)."""
    shapes = {k: tuple(v.get("shape", ())) for k, v in read_header(Path(path)).items()}
    expected = model.state_dict()
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    bad = [k for k in expected if k in shapes and shapes[k] != tuple(expected[k].shape)]
    if missing or extra or bad:
        detail = (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}" if extra
                  else f"shape of {bad[0]} is {shapes[bad[0]]}, config gives {tuple(expected[bad[0]].shape)}")
        raise SeqattnError(f"{path}: weights do not match the run's config ({detail})")
    tensors = read_tensors(path, expected_sha256)
    bad_value = first_non_finite(tensors)
    if bad_value is not None:
        raise SeqattnError(f"{path}: corrupt: {bad_value} holds NaN or inf values")
    model.load_state_dict(tensors)
