"""Read parallel corpora (two line-aligned files or one TSV), validating as we go.

Every problem is reported as `file:line: what is wrong`, before anything is written.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from seqattn.config import BUILTIN_PREFIX, CorpusSpec, SplitConfig
from seqattn.errors import SeqattnError

BUILTIN_CORPORA = {"tatoeba-kor-eng": "kor.txt"}
MAX_LINE_CHARS = 100_000  # a corpus line longer than this is not a sentence


@dataclass
class ParallelText:
    """Aligned source and target sentences, and where they came from."""

    src: list[str]
    tgt: list[str]
    origin: str

    def __len__(self) -> int:
        return len(self.src)

    def subset(self, idx: np.ndarray | list[int], origin: str) -> ParallelText:
        return ParallelText([self.src[i] for i in idx], [self.tgt[i] for i in idx], origin)


def resolve_path(name: str) -> Path:
    """A path as given, or `builtin:NAME` for a corpus shipped inside the package."""
    if name.startswith(BUILTIN_PREFIX):
        key = name[len(BUILTIN_PREFIX):]
        if key not in BUILTIN_CORPORA:
            known = ", ".join(BUILTIN_PREFIX + k for k in BUILTIN_CORPORA)
            raise SeqattnError(f"unknown built-in corpus '{name}' (known: {known})")
        return Path(str(resources.files("seqattn") / "resources" / BUILTIN_CORPORA[key]))
    return Path(name).expanduser()


def decode_lines(raw: bytes, where: str, max_chars: int | None = None) -> list[str]:
    """Split UTF-8 bytes into lines (LF or CRLF ends; a leading BOM dropped), checking each.

    Errors name `where` and the line: invalid UTF-8, NUL bytes, a CR inside a line (old Mac
    line ends), a byte-order mark starting a later line (files glued together), and lines
    longer than `max_chars` characters.
    """
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    chunks = raw.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    lines = []
    for number, chunk in enumerate(chunks, start=1):
        try:
            line = chunk.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError as exc:
            raise SeqattnError(f"{where}:{number}: invalid UTF-8 (byte {exc.start + 1} of the line)"
                               ) from None
        if "\x00" in line:
            raise SeqattnError(f"{where}:{number}: contains a NUL byte (binary file?)")
        if "\r" in line:
            raise SeqattnError(f"{where}:{number}: carriage return (CR) inside the line; if the file "
                               "has old Mac (CR-only) line ends, convert them to LF")
        if line.startswith("\ufeff"):
            raise SeqattnError(f"{where}:{number}: starts with a byte-order mark (U+FEFF): were "
                               "files concatenated? Remove it")
        if max_chars is not None and len(line) > max_chars:
            raise SeqattnError(f"{where}:{number}: line is {len(line):,} characters long (at most "
                               f"{max_chars:,}); is this one sentence per line?")
        lines.append(line)
    return lines


def read_lines(name: str, max_chars: int | None = None) -> list[str]:
    """All lines of a UTF-8 text file (plain or .gz), checked as in `decode_lines`."""
    path = resolve_path(name)
    if path.is_dir():
        raise SeqattnError(f"{path}: is a folder, not a text file")
    if not path.is_file():
        raise SeqattnError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except OSError as exc:
        raise SeqattnError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (EOFError, zlib.error) as exc:
        raise SeqattnError(f"{path}: cannot read (broken gzip: {exc})") from None
    return decode_lines(raw, str(path), max_chars)


def _read_tsv(spec: CorpusSpec) -> ParallelText:
    path = str(resolve_path(spec.tsv))
    need = max(spec.src_column, spec.tgt_column) + 1
    src, tgt = [], []
    for number, line in enumerate(read_lines(spec.tsv, MAX_LINE_CHARS), start=1):
        if not line.strip():
            src.append("")
            tgt.append("")
            continue
        cols = line.split("\t")
        if len(cols) < need:
            raise SeqattnError(
                f"{path}:{number}: expected at least {need} tab-separated columns, found {len(cols)}"
            )
        src.append(cols[spec.src_column].strip())
        tgt.append(cols[spec.tgt_column].strip())
    return ParallelText(src, tgt, path)


def read_corpus(spec: CorpusSpec) -> ParallelText:
    """Read one split; raises SeqattnError naming the file and line on bad input."""
    if spec.tsv is not None:
        text = _read_tsv(spec)
    else:
        src = [s.strip() for s in read_lines(spec.src, MAX_LINE_CHARS)]
        tgt = [t.strip() for t in read_lines(spec.tgt, MAX_LINE_CHARS)]
        if len(src) != len(tgt):
            raise SeqattnError(
                f"{resolve_path(spec.src)} has {len(src)} lines but {resolve_path(spec.tgt)} "
                f"has {len(tgt)}: the two sides must be line-aligned"
            )
        text = ParallelText(src, tgt, f"{resolve_path(spec.src)} + {resolve_path(spec.tgt)}")
    if not any(s and t for s, t in zip(text.src, text.tgt)):
        raise SeqattnError(f"{text.origin}: empty corpus (no non-empty sentence pairs)")
    return text


def split_corpus(
    text: ParallelText, split: SplitConfig
) -> tuple[ParallelText, ParallelText, ParallelText]:
    """Seeded train/dev/test split of one corpus (used when no dev/test files are given)."""
    n = len(text)
    if n < split.dev_size + split.test_size + 1:
        raise SeqattnError(
            f"{text.origin}: {n} pairs cannot be split into dev ({split.dev_size}) and test "
            f"({split.test_size}) with training data left; lower data.split sizes or give "
            "data.dev and data.test"
        )
    perm = np.random.default_rng(split.seed).permutation(n)
    dev_idx = np.sort(perm[: split.dev_size])
    test_idx = np.sort(perm[split.dev_size : split.dev_size + split.test_size])
    train_idx = np.sort(perm[split.dev_size + split.test_size :])
    return (
        text.subset(train_idx, text.origin + " [train split]"),
        text.subset(dev_idx, text.origin + " [dev split]"),
        text.subset(test_idx, text.origin + " [test split]"),
    )
