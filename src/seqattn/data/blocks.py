"""Large parallel corpora read in blocks of whole lines, never all at once.

Used by `seqattn.data.prepare`: a block is decoded and split into sentences by whoever
encodes it, and lines that are not text are reported instead of stopping everything.
"""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np

from seqattn.config import CorpusSpec
from seqattn.data.corpus import MAX_LINE_CHARS, corpus_file
from seqattn.errors import SeqattnError

READ_SIZE = 1 << 22


def cpu_count() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _open(path: Path):
    try:
        return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")
    except FileNotFoundError:
        raise SeqattnError(f"{path}: file not found") from None
    except OSError as exc:
        raise SeqattnError(f"{path}: cannot read ({exc.strerror or exc})") from None


class _LineBlocks:
    """Reads a text file (plain or .gz) in blocks of whole lines, dropping a leading BOM."""

    def __init__(self, path: Path):
        self.path, self.fh, self.buf, self.eof, self.first = path, _open(path), b"", False, True

    def _read(self) -> bytes:
        try:
            chunk = self.fh.read(READ_SIZE)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise SeqattnError(f"{self.path}: cannot read ({exc})") from None
        if self.first and chunk.startswith(b"\xef\xbb\xbf"):
            chunk = chunk[3:]
        self.first = False
        return chunk

    def take(self, k: int) -> tuple[bytes, int]:
        """Up to `k` lines as one block, and how many there are (0 at the end of the file)."""
        pieces, count = [self.buf], self.buf.count(b"\n")
        while count < k and not self.eof:
            chunk = self._read()
            self.eof = not chunk
            pieces.append(chunk)
            count += chunk.count(b"\n")
        buf = b"".join(pieces)
        if count >= k:
            cut = int(np.flatnonzero(np.frombuffer(buf, np.uint8) == 10)[k - 1]) + 1
            self.buf = buf[cut:]
            return buf[:cut], k
        self.buf = b""
        return buf, count + (1 if buf and not buf.endswith(b"\n") else 0)

    def close(self) -> None:
        self.fh.close()


def digest(path: Path) -> tuple[str, int]:
    """Content hash (of the decompressed text) and number of lines of one file."""
    blocks, hasher, lines, last = _LineBlocks(path), hashlib.sha256(), 0, b"\n"
    try:
        while chunk := blocks._read():
            hasher.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    finally:
        blocks.close()
    return hasher.hexdigest(), lines + (last != b"\n")


def input_files(spec: CorpusSpec) -> list[Path]:
    """The training files of `spec`, each checked to be a regular file (`corpus_file`)."""
    return [corpus_file(name) for name in ((spec.tsv,) if spec.tsv is not None else (spec.src, spec.tgt))]


def aligned_blocks(spec: CorpusSpec, k: int):
    """Aligned blocks of `k` lines: (first line index, lines, src block, tgt block or None)."""
    readers = [_LineBlocks(p) for p in input_files(spec)]
    first = 0
    try:
        while True:
            taken = [r.take(k) for r in readers]
            n = taken[0][1]
            if n == 0:
                return
            yield first, n, taken[0][0], (taken[1][0] if len(taken) > 1 else None)
            first += n
    finally:
        for r in readers:
            r.close()


def _check(lines: list[str], text: str) -> dict[int, str]:
    """Lines that `read_lines` would refuse (see `corpus.decode_lines`), with the reason."""
    bad: dict[int, str] = {}
    if "\x00" in text:
        bad.update({i: "nul_byte" for i, s in enumerate(lines) if "\x00" in s})
    if "\r" in text:
        bad.update({i: "carriage_return" for i, s in enumerate(lines) if "\r" in s})
    if "\ufeff" in text:
        bad.update({i: "byte_order_mark" for i, s in enumerate(lines) if s.startswith("\ufeff")})
    if len(text) > MAX_LINE_CHARS and max(map(len, lines)) > MAX_LINE_CHARS:
        bad.update({i: "line_too_long" for i, s in enumerate(lines) if len(s) > MAX_LINE_CHARS})
    return bad


def _lines(block: bytes, n: int) -> tuple[list[str], dict[int, str]]:
    """The `n` lines of a block (a final CR removed); lines that are not one line of text
    are '' and reported by line index, with the reason."""
    try:
        lines = [s.removesuffix("\r") for s in block.decode("utf-8").split("\n")[:n]]
        bad = {}
    except UnicodeDecodeError:
        lines, bad = [], {}
        for i, raw in enumerate(block.split(b"\n")[:n]):
            try:
                lines.append(raw.decode("utf-8").removesuffix("\r"))
            except UnicodeDecodeError:
                lines.append("")
                bad[i] = "invalid_utf8"
    bad.update(_check(lines, "\n".join(lines)))
    for i in bad:
        lines[i] = ""
    return lines, bad


def block_pairs(spec: CorpusSpec, n: int, src_block: bytes, tgt_block: bytes | None
                ) -> tuple[list[str], list[str], dict[int, str]]:
    """Stripped source and target sentences of a block, and the lines that cannot be read."""
    src, tgt, bad = _block_pairs(spec, n, src_block, tgt_block)
    if spec.tgt_strip_digits:
        tgt = [t.translate(_DIGITS) for t in tgt]
    return src, tgt, bad


_DIGITS = str.maketrans("", "", "0123456789")


def _block_pairs(spec: CorpusSpec, n: int, src_block: bytes, tgt_block: bytes | None
                 ) -> tuple[list[str], list[str], dict[int, str]]:
    if tgt_block is not None:
        src, bad = _lines(src_block, n)
        tgt, bad_tgt = _lines(tgt_block, n)
        for i, reason in bad_tgt.items():
            bad.setdefault(i, reason)
        return [s.strip() for s in src], [t.strip() for t in tgt], bad
    rows, bad = _lines(src_block, n)
    need = max(spec.src_column, spec.tgt_column) + 1
    src, tgt = [], []
    for i, row in enumerate(rows):
        cols = row.split("\t") if row.strip() else ["" for _ in range(need)]
        if len(cols) < need:
            bad.setdefault(i, "missing_columns")
            cols = ["" for _ in range(need)]
        src.append(cols[spec.src_column].strip())
        tgt.append(cols[spec.tgt_column].strip())
    return src, tgt, bad
