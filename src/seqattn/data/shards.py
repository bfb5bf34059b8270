"""Prepared training data on disk: sharded NumPy arrays, streamed with bounded memory.

A prepared folder (written by `seqattn.data.prepare`) holds, per shard `NNNNN`:
  shards/NNNNN.tokens.npy   uint16/uint32  source then target subword ids of each pair, back to back
  shards/NNNNN.offsets.npy  int64 (n + 1)  where each pair starts in `tokens`
  shards/NNNNN.lengths.npy  uint16/uint32 (n, 2)  source and target lengths in subwords
  shards/NNNNN.lines.npy    int64 (n)      the pair's line number (1-based) in the input
and `manifest.json`, written last, which lists the shards. The arrays are plain .npy files
(`np.load(path, mmap_mode="r")` maps them). Training keeps only the lengths in memory (4
bytes a pair) and reads each batch's offsets and token ids with positioned reads: through a
memory map the kernel maps whole page-cache folios on every fault (about 0.5 MB per pair on
these machines), so random access made the resident size grow with the corpus (+300 MB per
2,000 batches at 5M pairs), while positioned reads copy just the bytes needed and leave
caching to the page cache.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.errors import SeqattnError

FORMAT = "seqattn-prepared/1"
MANIFEST = "manifest.json"
SHARDS = "shards"
OPEN_SHARDS = 128  # shards whose files stay open (two descriptors each)


def shard_file(folder: Path, shard: str, kind: str) -> Path:
    """Path of one array of one shard: kind is tokens, offsets, lengths or lines."""
    return folder / SHARDS / f"{shard}.{kind}.npy"


def read_manifest(folder: str | Path) -> dict[str, Any] | None:
    """The manifest of a complete prepared folder, or None when there is none (yet)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SeqattnError(f"{path}: unreadable manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise SeqattnError(f"{path}: not seqattn prepared data of format {FORMAT}")
    return manifest


def _open_npy(path: Path, dtype: np.dtype | None = None) -> tuple[int, int, np.dtype]:
    """Open a .npy file for positioned reads: (file descriptor, where the data starts, dtype)."""
    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            _, fortran, found = read_header(fh)
            start = fh.tell()
        if fortran or (dtype is not None and found != dtype):
            raise ValueError(f"unexpected array layout ({found})")
        return os.open(path, os.O_RDONLY), start, found
    except (OSError, ValueError) as exc:
        raise SeqattnError(f"{path}: cannot read prepared data ({exc})") from None


def _read_at(fd: int, count: int, position: int, dtype: np.dtype) -> np.ndarray:
    """`count` items of `dtype` at byte `position` of `fd`."""
    size = count * dtype.itemsize
    if hasattr(os, "pread"):
        raw = os.pread(fd, size, position)
    else:  # (no positioned reads on this system)
        os.lseek(fd, position, os.SEEK_SET)
        raw = os.read(fd, size)
    if len(raw) != size:
        raise SeqattnError(f"prepared data is truncated (fd {fd}, byte {position})")
    return np.frombuffer(raw, dtype=dtype)


class ShardedSplit:
    """Training pairs in a prepared folder, read with bounded memory (see the module doc).

    Only the lengths live in memory; each batch's token ids are read from the shards when
    asked for, so the resident size stays flat however large the corpus.
    """

    def __init__(self, folder: str | Path, manifest: dict[str, Any] | None = None):
        self.folder = Path(folder)
        manifest = manifest or read_manifest(self.folder)
        if manifest is None:
            raise SeqattnError(f"{self.folder}: no prepared data here (no {MANIFEST})")
        self.names = [s["name"] for s in manifest["shards"]]
        counts = np.asarray([s["pairs"] for s in manifest["shards"]], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self._lengths = np.zeros((0, 2), np.uint16)  # (pairs, 2): source and target lengths
        for k, name in enumerate(self.names):
            part = np.load(shard_file(self.folder, name, "lengths"), mmap_mode="r")
            if k == 0:
                self._lengths = np.empty((self.starts[-1], 2), dtype=part.dtype)
            if len(part) != counts[k]:
                raise SeqattnError(f"{self.folder}: shard {name} does not match {MANIFEST}")
            self._lengths[self.starts[k] : self.starts[k + 1]] = part
        self._files: OrderedDict[int, tuple] = OrderedDict()  # shard -> open files, least recent first

    def __len__(self) -> int:
        return int(self.starts[-1])

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """Source and target lengths in subwords (without specials), one per pair."""
        return self._lengths[:, 0], self._lengths[:, 1]

    def target_tokens(self, indices: Sequence[int]) -> int:
        """Target tokens to predict in these pairs (EOS included)."""
        return int(self._lengths[np.asarray(indices, dtype=np.int64), 1].sum()) + len(indices)

    def _shard(self, k: int) -> tuple:
        """(tokens fd, data start, dtype, offsets fd, data start) of shard k, opened on demand."""
        if k in self._files:
            self._files.move_to_end(k)
        else:
            if len(self._files) >= OPEN_SHARDS:
                self._close(self._files.popitem(last=False)[1])
            tokens = _open_npy(shard_file(self.folder, self.names[k], "tokens"))
            offsets = _open_npy(shard_file(self.folder, self.names[k], "offsets"), np.dtype(np.int64))
            self._files[k] = (*tokens, *offsets[:2])
        return self._files[k]

    @staticmethod
    def _close(files: tuple) -> None:
        os.close(files[0])
        os.close(files[3])

    def close(self) -> None:
        """Close the shard files (they are reopened when read again)."""
        while self._files:
            self._close(self._files.popitem()[1])

    def __del__(self) -> None:
        if hasattr(self, "_files"):
            self.close()

    def pairs(self, indices: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Source and target subword ids (int64 copies) of the pairs at `indices`."""
        idx = np.asarray(indices, dtype=np.int64)
        shards = np.searchsorted(self.starts, idx, side="right") - 1
        src, tgt = [], []
        int64 = np.dtype(np.int64)
        for i, k in zip(idx.tolist(), shards.tolist()):
            tok_fd, tok_start, dtype, off_fd, off_start = self._shard(k)
            start = int(_read_at(off_fd, 1, off_start + 8 * (i - int(self.starts[k])), int64)[0])
            n_src, n_tgt = (int(x) for x in self._lengths[i])
            ids = _read_at(tok_fd, n_src + n_tgt, tok_start + start * dtype.itemsize, dtype).astype(np.int64)
            src.append(ids[:n_src])
            tgt.append(ids[n_src:])
        return src, tgt

    def line(self, index: int) -> int:
        """The input line (1-based) that pair `index` came from."""
        k = int(np.searchsorted(self.starts, index, side="right") - 1)
        lines = np.load(shard_file(self.folder, self.names[k], "lines"), mmap_mode="r")
        return int(lines[index - self.starts[k]])
