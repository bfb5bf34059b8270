"""Read parallel corpora (two line-aligned files or one TSV), validating as we go.

Every problem is reported as `file:line: what is wrong`, before anything is written.
"""

from __future__ import annotations

import gzip
import stat
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from seqattn.config import BUILTIN_PREFIX, CorpusSpec, SplitConfig
from seqattn.errors import SeqattnError

BUILTIN_CORPORA = {"tatoeba-kor-eng": "kor.txt", "cmudict": "cmudict.tsv.gz",
                   "korean-romanization": "korean_romanization.tsv"}
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


def _existing(path: Path) -> Path:
    if path.is_dir():
        raise SeqattnError(f"{path}: is a folder, not a text file")
    if not path.exists():
        raise SeqattnError(f"{path}: file not found")
    return path


def _kind(path: Path) -> str:
    """What a path that exists but is neither a folder nor a regular file is, in words."""
    mode = path.stat().st_mode
    kinds = ((stat.S_ISFIFO, "a pipe"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    return next((word for test, word in kinds if test(mode)), "a special file")


def corpus_file(name: str) -> Path:
    """The path of a training corpus file, which must be a regular file: training reads its data
    more than once (`prepare` in three passes, every process of a multi-process run, `--resume`)."""
    path = _existing(resolve_path(name))
    if not path.is_file():
        raise SeqattnError(f"{path}: is {_kind(path)}, not a regular file; training data must be a "
                           "regular file because it is read more than once (by prepare, by every "
                           "training process, by --resume): save it to a file first")
    return path


def _read_stream(path: Path) -> bytes:
    """All bytes of a pipe, FIFO or device, read once. Plain text stops at its first NUL byte,
    which `decode_lines` refuses there anyway (so /dev/zero ends at once instead of filling memory)."""
    chunks = []
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            nul = -1 if path.suffix == ".gz" else chunk.find(b"\x00")
            chunks.append(chunk if nul < 0 else chunk[: nul + 1])
            if nul >= 0:
                break
    return b"".join(chunks)


def read_lines(name: str, max_chars: int | None = None) -> list[str]:
    """All lines of a UTF-8 text file (plain or .gz), checked as in `decode_lines`. A pipe, FIFO
    or /dev/stdin is read once, to its end."""
    path = _existing(resolve_path(name))
    try:
        raw = path.read_bytes() if path.is_file() else _read_stream(path)
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
    """Read one split of a configured corpus (regular files only, see `corpus_file`); raises
    SeqattnError naming the file and line on bad input."""
    for name in (spec.tsv,) if spec.tsv is not None else (spec.src, spec.tgt):
        corpus_file(name)
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
    if spec.tgt_strip_digits:
        text.tgt = [t.translate(_DIGITS) for t in text.tgt]
    if not any(s and t for s, t in zip(text.src, text.tgt)):
        raise SeqattnError(f"{text.origin}: empty corpus (no non-empty sentence pairs)")
    return text


_DIGITS = str.maketrans("", "", "0123456789")


def require_filled(text: ParallelText, spec: CorpusSpec, side: str, what: str) -> None:
    """A line with text on the other side must have some on `side` ('src' or 'tgt'): for
    symbol vocabularies a blank side is a broken entry (a word with no phonemes), not a pair to
    skip. `text` must be as read (one item per line)."""
    mine, other = (text.src, text.tgt) if side == "src" else (text.tgt, text.src)
    for number, (a, b) in enumerate(zip(mine, other), start=1):
        if b and not a.split():
            path = resolve_path(spec.tsv if spec.tsv is not None else getattr(spec, side))
            column = f" (column {spec.src_column if side == 'src' else spec.tgt_column})" if spec.tsv else ""
            raise SeqattnError(f"{path}:{number}: no {what} on the {'source' if side == 'src' else 'target'} "
                               f"side{column}, only spaces or nothing")


def _group_indices(sources: Sequence[str]) -> list[list[int]]:
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(sources):
        groups.setdefault(s, []).append(i)
    return list(groups.values())


def split_lines(n: int, split: SplitConfig, origin: str, sources: Sequence[str] | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The seeded split of a corpus of `n` lines: its train, dev and test line indices, each
    sorted. With `split.by_source` (`sources` then gives each line's source) the sizes count
    distinct sources, each kept whole in one split."""
    if split.by_source and sources is None:
        raise ValueError("split.by_source needs the sources")
    groups = _group_indices(sources) if split.by_source else [[i] for i in range(n)]
    count, unit = len(groups), "distinct sources" if split.by_source else "pairs"
    if count < split.dev_size + split.test_size + 1:
        raise SeqattnError(
            f"{origin}: {count} {unit} cannot be split into dev ({split.dev_size}) and test "
            f"({split.test_size}) with training data left; lower data.split sizes or give "
            "data.dev and data.test"
        )
    perm = np.random.default_rng(split.seed).permutation(count)

    def lines(picked: np.ndarray) -> np.ndarray:
        return np.sort(np.fromiter((i for g in picked for i in groups[g]), dtype=np.int64))

    return (lines(perm[split.dev_size + split.test_size :]), lines(perm[: split.dev_size]),
            lines(perm[split.dev_size : split.dev_size + split.test_size]))


def split_corpus(
    text: ParallelText, split: SplitConfig
) -> tuple[ParallelText, ParallelText, ParallelText]:
    """Seeded train/dev/test split of one corpus (used when no dev/test files are given); see
    `split_lines`."""
    train_idx, dev_idx, test_idx = split_lines(len(text), split, text.origin, text.src)
    return (
        text.subset(train_idx, text.origin + " [train split]"),
        text.subset(dev_idx, text.origin + " [dev split]"),
        text.subset(test_idx, text.origin + " [test split]"),
    )
