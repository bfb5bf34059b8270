"""Crash-safe file writes: temp file in the same folder, fsync, rename.

A reader (or a process started after a crash) sees either the old file or the whole new
one, never a part. A crash can leave a temp file behind (`.NAME.XXXX.tmp`);
`remove_stale_temps` clears them.
"""

from __future__ import annotations

import os
import tempfile
from functools import partial
from pathlib import Path

from seqattn import stopping
from seqattn.errors import SeqattnError

TMP_SUFFIX = ".tmp"


def _reason(exc: OSError) -> str:
    if exc.strerror:
        return exc.strerror
    return os.strerror(exc.errno) if exc.errno else str(exc)


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dirs(folder: str | Path) -> Path:
    """`mkdir -p` with a SeqattnError naming the folder when it cannot be made."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise SeqattnError(f"{folder}: cannot create folder (a file is in the way)") from None
    except OSError as exc:
        raise SeqattnError(f"{folder}: cannot create folder ({_reason(exc)})") from None
    return folder


def check_writable(folder: str | Path) -> None:
    """Raise a SeqattnError unless a file can be created (and removed) in `folder`."""
    folder = Path(folder)
    try:
        fd, name = tempfile.mkstemp(prefix=".write-test.", suffix=TMP_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        raise SeqattnError(f"{folder}: cannot write here ({_reason(exc)})") from None


def _file_mode(path: Path) -> int:
    """The mode a plain `open(path, "w")` would leave: the old file's, or 0o666 less the umask
    (`mkstemp` alone makes 0o600 files that other users and web servers cannot read)."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_UMASK


_UMASK = os.umask(0o022)
os.umask(_UMASK)  # (read once at import: os.umask can only be read by setting it)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the whole new one."""
    path = Path(path)
    make_dirs(path.parent)
    tmp_name = None
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        with stopping.on_stop(partial(_unlink, tmp_name)):  # (a signal stops the process at once)
            try:
                os.fchmod(fd, _file_mode(path))
            except OSError:  # (filesystems without permissions)
                pass
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, path)
            tmp_name = None
        fsync_dir(path.parent)
    except OSError as exc:
        raise SeqattnError(f"{path}: cannot write ({_reason(exc)})") from exc
    finally:
        if tmp_name is not None:
            _unlink(tmp_name)


def _unlink(name: str) -> None:
    try:
        os.unlink(name)
    except OSError:
        pass


def atomic_write_text(path: str | Path, text: str) -> None:
    """`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete temp files that an interrupted `atomic_write_bytes` left in `folder`."""
    folder = Path(folder)
    removed = []
    if not folder.is_dir():
        return removed
    for tmp in folder.glob(f".*{TMP_SUFFIX}"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            pass
    return removed
