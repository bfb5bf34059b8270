"""Prepared training data on disk: sharded NumPy files read through memory maps.

A prepared folder (written by `seqattn.data.prepare`) holds, per shard `NNNNN`:
  shards/NNNNN.tokens.npy   uint16/uint32  source then target subword ids of each pair, back to back
  shards/NNNNN.offsets.npy  int64 (n + 1)  where each pair starts in `tokens`
  shards/NNNNN.lengths.npy  uint16/uint32 (n, 2)  source and target lengths in subwords
  shards/NNNNN.lines.npy    int64 (n)      the pair's line number (1-based) in the input
and `manifest.json`, written last, which lists the shards. Training keeps only the lengths
in memory (4 bytes a pair) and copies token ids out of the maps batch by batch.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.errors import SeqattnError

FORMAT = "seqattn-prepared/1"
MANIFEST = "manifest.json"
SHARDS = "shards"
RELEASE_EVERY = 16  # batches between handing mapped pages back to the OS


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


def _map_npy(path: Path) -> tuple[np.ndarray, mmap.mmap]:
    """A read-only memory map of a .npy file, and the map itself (to release its pages)."""
    try:
        with path.open("rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                           else np.lib.format.read_array_header_2_0)
            shape, _, dtype = read_header(fh)
            offset = fh.tell()
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    except (OSError, ValueError) as exc:
        raise SeqattnError(f"{path}: cannot map prepared data ({exc})") from None
    count = int(np.prod(shape))
    return np.frombuffer(mapped, dtype=dtype, count=count, offset=offset).reshape(shape), mapped


class ShardedSplit:
    """Training pairs in a prepared folder, read through memory maps with bounded memory.

    Only the lengths live in memory. Token ids are copied out of the maps for each batch,
    and every `RELEASE_EVERY` batches the mapped pages are handed back to the OS, so the
    resident size stays flat however large the corpus.
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
        self._maps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._mmaps: list[mmap.mmap] = []
        self._fetches = 0

    def __len__(self) -> int:
        return int(self.starts[-1])

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """Source and target lengths in subwords (without specials), one per pair."""
        return self._lengths[:, 0], self._lengths[:, 1]

    def target_tokens(self, indices: Sequence[int]) -> int:
        """Target tokens to predict in these pairs (EOS included)."""
        return int(self._lengths[np.asarray(indices, dtype=np.int64), 1].sum()) + len(indices)

    def _shard(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if k not in self._maps:
            tokens, tok_map = _map_npy(shard_file(self.folder, self.names[k], "tokens"))
            offsets, off_map = _map_npy(shard_file(self.folder, self.names[k], "offsets"))
            self._maps[k] = (tokens, offsets)
            self._mmaps += [tok_map, off_map]
        return self._maps[k]

    def pairs(self, indices: Sequence[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Source and target subword ids (int64 copies) of the pairs at `indices`."""
        idx = np.asarray(indices, dtype=np.int64)
        shards = np.searchsorted(self.starts, idx, side="right") - 1
        src, tgt = [], []
        for i, k in zip(idx.tolist(), shards.tolist()):
            tokens, offsets = self._shard(k)
            start = int(offsets[i - self.starts[k]])
            n_src, n_tgt = (int(x) for x in self._lengths[i])
            src.append(tokens[start : start + n_src].astype(np.int64))
            tgt.append(tokens[start + n_src : start + n_src + n_tgt].astype(np.int64))
        self._fetches += 1
        if self._fetches % RELEASE_EVERY == 0:
            self.release()
        return src, tgt

    def line(self, index: int) -> int:
        """The input line (1-based) that pair `index` came from."""
        k = int(np.searchsorted(self.starts, index, side="right") - 1)
        lines = np.load(shard_file(self.folder, self.names[k], "lines"), mmap_mode="r")
        return int(lines[index - self.starts[k]])

    def release(self) -> None:
        """Hand the mapped pages back to the OS (they stay in the page cache)."""
        if hasattr(mmap, "MADV_DONTNEED"):
            for mapped in self._mmaps:
                mapped.madvise(mmap.MADV_DONTNEED)
