"""An exported folder: its layout, its manifest, and the checks made before anything in it is used.

    EXPORT_DIR/
      manifest.json        format and version, special ids, decoding defaults, the graphs' inputs
                           and outputs, the opset, the ONNX Runtime version it was checked with,
                           and the SHA-256 of every other file
      encoder.onnx         source ids and lengths -> the attention memory and the decoder's first state
      decoder_step.onnx    one token for every row: logits, the next state, attention weights
      spm.model ...        the run's vocabulary files, under the run directory's names

A folder is read only when its manifest is of a format this version knows, every file it lists
is there with the hash it lists, and nothing else is; each problem is one line. NumPy and the
standard library only: no torch on this path.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from seqattn.errors import SeqattnError

MANIFEST = "manifest.json"
ENCODER = "encoder.onnx"
STEP = "decoder_step.onnx"
FORMAT = "seqattn-export"  # the manifest's "format": what kind of folder this is
VERSION = 2  # the manifest's "version": bump when an older reader would misread the folder
# (2: the step graph also takes `k` and gives each row's top-k log-probabilities; 1 is still read)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise SeqattnError(f"{path.parent}: not an exported model (no {MANIFEST})") from None
    except OSError as exc:
        raise SeqattnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise SeqattnError(f"{path}: damaged manifest (not JSON); export the run again") from None


def is_export(folder: str | Path) -> bool:
    """Whether `folder` holds an exported model's manifest (of any version); checks nothing else."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return False
    try:
        body = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return True  # (a damaged manifest is still an exported folder's: `read_manifest` says what is wrong)
    return isinstance(body, dict) and body.get("format") == FORMAT


def manifest_files(folder: Path) -> dict[str, str]:
    """{name: sha256} of every file in `folder` but the manifest (the exporter lists these)."""
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.name != MANIFEST}


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of the exported folder `folder`, once the folder is checked whole: a known
    format and version, every listed file present with its listed hash, no file unlisted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SeqattnError(f"{folder}: exported model not found")
    body = _read_json(folder / MANIFEST)
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise SeqattnError(f"{folder / MANIFEST}: not the manifest of an exported seqattn model")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SeqattnError(f"{folder / MANIFEST}: damaged manifest (version {version!r}); "
                           "export the run again")
    if version > VERSION:
        raise SeqattnError(f"{folder / MANIFEST}: written in export format {version} by a newer seqattn "
                           f"({body.get('seqattn', '?')}); this one reads format {VERSION}: upgrade seqattn")
    files = body.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise SeqattnError(f"{folder / MANIFEST}: damaged manifest (no file list); export the run again")
    for name, digest in files.items():
        path = folder / name
        if Path(name).name != name or name == MANIFEST:
            raise SeqattnError(f"{folder / MANIFEST}: damaged manifest (lists {name!r}); "
                               "export the run again")
        if not path.is_file():
            raise SeqattnError(f"{path}: missing from the exported model (the manifest lists it); "
                               "copy the whole folder again")
        if sha256_file(path) != digest:
            raise SeqattnError(f"{path}: changed since export (its SHA-256 is not the manifest's); "
                               "copy the whole folder again, or export the run again")
    foreign = sorted(p.name for p in folder.iterdir() if p.name != MANIFEST and p.name not in files)
    if foreign:
        raise SeqattnError(f"{folder / foreign[0]}: not part of the exported model (the manifest does not "
                           f"list it{f' nor {len(foreign) - 1} more' if len(foreign) > 1 else ''}); "
                           "remove it or export again")
    return body
