"""From a DataConfig to encoded train/dev/test splits and the subword model.

Two ways in: small corpora are read and encoded in memory (`load_splits` + `prepare_data`);
large ones are prepared once into memory-mapped shards and streamed (`stream_folder` +
`load_prepared`). Both give a `PreparedData` whose train split answers `lengths` and `pairs`.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqattn.config import Config, CorpusSpec, DataConfig
from seqattn.data.corpus import ParallelText, read_corpus, require_filled, resolve_path, split_corpus
from seqattn.data.shards import ShardedSplit
from seqattn.data.subword import Subwords
from seqattn.errors import SeqattnError

log = logging.getLogger("seqattn")


@dataclass
class EncodedSplit:
    """A split's text and its subword ids (no specials), pair for pair."""

    text: ParallelText
    src_ids: list[list[int]]
    tgt_ids: list[list[int]]

    def __len__(self) -> int:
        return len(self.src_ids)

    def lengths(self) -> tuple[np.ndarray, np.ndarray]:
        """Source and target lengths in subwords (without specials), one per pair."""
        return (np.asarray([len(s) for s in self.src_ids], dtype=np.int64),
                np.asarray([len(t) for t in self.tgt_ids], dtype=np.int64))

    def pairs(self, indices: Sequence[int]) -> tuple[list[list[int]], list[list[int]]]:
        """Source and target subword ids of the pairs at `indices`."""
        return [self.src_ids[i] for i in indices], [self.tgt_ids[i] for i in indices]

    def target_tokens(self, indices: Sequence[int]) -> int:
        """Target tokens to predict in these pairs (EOS included)."""
        return sum(len(self.tgt_ids[i]) + 1 for i in indices)


def _read(spec: CorpusSpec, cfg: DataConfig) -> ParallelText:
    text = read_corpus(spec)
    for side, kind in zip(("src", "tgt"), cfg.subword.types):
        if kind == "symbols":
            require_filled(text, spec, side, "symbols")
    return text


def load_splits(cfg: DataConfig) -> tuple[ParallelText, ParallelText, ParallelText | None]:
    """Read train/dev/test as configured; carve dev and test out of train when absent."""
    train = _read(cfg.train, cfg)
    if cfg.dev is None:
        train, dev, test = split_corpus(train, cfg.split)
        return train, dev, (_read(cfg.test, cfg) if cfg.test else test)
    return train, _read(cfg.dev, cfg), (_read(cfg.test, cfg) if cfg.test else None)


def encode_split(text: ParallelText, subwords: Subwords, max_len: int | None,
                 name: str) -> EncodedSplit:
    """Encode a split, skipping empty pairs (and over-long ones when `max_len` is set)."""
    src_ids, tgt_ids = subwords.encode_src(text.src), subwords.encode_tgt(text.tgt)
    keep, empty, long = [], 0, 0
    for i, (s, t) in enumerate(zip(src_ids, tgt_ids)):
        if not s or not t:
            empty += 1
        elif max_len is not None and (len(s) > max_len or len(t) > max_len):
            long += 1
        else:
            keep.append(i)
    if empty or long:
        log.info("%s: skipped %d empty and %d over-long (> %s subwords) pairs of %d",
                 name, empty, long, max_len, len(text))
    return EncodedSplit(text.subset(keep, text.origin), [src_ids[i] for i in keep],
                        [tgt_ids[i] for i in keep])


@dataclass
class PreparedData:
    subwords: Subwords
    train: EncodedSplit | ShardedSplit
    dev: EncodedSplit
    test: EncodedSplit | None


def prepare_data(cfg: DataConfig, splits: tuple[ParallelText, ParallelText, ParallelText | None],
                 run_dir: Path, seed: int, reuse: bool) -> PreparedData:
    """Train (or reload, when `reuse`) SentencePiece on the splits from `load_splits`, and
    encode them."""
    train, dev, test = splits
    if reuse:
        subwords = Subwords.load(run_dir)
    else:
        log.info("building the vocabulary (%s, at most %d tokens, %s) on %d pairs",
                 "/".join(dict.fromkeys(cfg.subword.types)), cfg.subword.vocab_size,
                 "joint" if cfg.subword.joint else "per side", len(train))
        subwords = Subwords.train(train.src, train.tgt, cfg.subword, seed)
        subwords.save(run_dir)
    enc_train = encode_split(train, subwords, cfg.max_len, "train")
    if len(enc_train) == 0:
        raise SeqattnError(f"{train.origin}: no training pairs left after skipping empty and over-long ones")
    enc_dev, enc_test = _encode_scored_splits(dev, test, subwords)
    log.info("data: %d train, %d dev, %s test pairs; vocab src %d / tgt %d", len(enc_train),
             len(enc_dev), len(enc_test) if enc_test else 0, subwords.src_vocab_size,
             subwords.tgt_vocab_size)
    return PreparedData(subwords, enc_train, enc_dev, enc_test)


def _encode_scored_splits(dev, test, subwords: Subwords):
    """Encode dev and test (no length limit: they are scored whole); refuse an empty one."""
    enc_dev = encode_split(dev, subwords, None, "dev")
    enc_test = encode_split(test, subwords, None, "test") if test is not None else None
    for name, split, text in (("dev", enc_dev, dev), ("test", enc_test, test)):
        if split is not None and len(split) == 0:  # (nothing to score: checked before training)
            raise SeqattnError(f"{text.origin}: no {name} pair left: all {len(text):,} encode to nothing "
                               "on one side (e.g. only characters the subword model drops)")
    return enc_dev, enc_test


def _corpus_bytes(spec: CorpusSpec, limit: float) -> float:
    """The training files' size as text (gzip files counted inflated, reading no further than
    `limit` bytes in all: a small .gz can hold a large corpus)."""
    files = [spec.tsv] if spec.tsv is not None else [spec.src, spec.tgt]
    total = 0.0
    for path in (resolve_path(f) for f in files):
        if not path.is_file():
            continue
        if path.suffix != ".gz":
            total += path.stat().st_size
            continue
        try:
            with gzip.open(path, "rb") as fh:
                while total <= limit and (chunk := fh.read(1 << 20)):
                    total += len(chunk)
        except (OSError, EOFError, zlib.error):  # a damaged file: the reader reports it with its line
            total += path.stat().st_size
    return total


def stream_folder(cfg: DataConfig, default: Path) -> Path | None:
    """Where prepared data is streamed from, or None to train from memory: `data.prepared`
    when set, else `default` (the run's prepared/) when the training files exceed
    `data.stream_above_mb`."""
    if cfg.prepared is not None:
        return Path(cfg.prepared).expanduser()
    limit = None if cfg.stream_above_mb is None else cfg.stream_above_mb * 1e6
    if limit is not None and _corpus_bytes(cfg.train, limit) > limit:
        return default
    return None


def _text_split(folder: Path, name: str) -> ParallelText | None:
    files = CorpusSpec(src=str(folder / f"{name}.src"), tgt=str(folder / f"{name}.tgt"))
    return read_corpus(files) if Path(files.src).is_file() else None


def load_prepared(cfg: Config, folder: Path, run_dir: Path, reuse: bool, build: bool = True,
                  workers: int | None = None) -> PreparedData:
    """Open prepared data for streaming; `build` prepares (or re-checks) it first.

    The subword model is copied into the run directory; with `reuse` (resuming) the run's
    own copy must match the prepared one. Dev and test come from `data.dev`/`data.test`, or
    from the pairs that `prepare` carved out of the training corpus.
    """
    from seqattn.data.prepare import prepare_corpus
    from seqattn.data.shards import read_manifest

    manifest = prepare_corpus(cfg, folder, workers).manifest if build else read_manifest(folder)
    if manifest is None:
        raise SeqattnError(f"{folder}: no prepared data here; run `seqattn prepare`")
    subwords = Subwords.load(folder)
    if reuse:
        if Subwords.load(run_dir)._blobs != subwords._blobs:
            raise SeqattnError(f"{folder}: prepared with another subword model than the run in "
                               f"{run_dir}; point data.prepared at the data this run was trained on")
    else:
        subwords.save(run_dir)
    d = cfg.data
    dev = read_corpus(d.dev) if d.dev is not None else _text_split(folder, "dev")
    test = read_corpus(d.test) if d.test is not None else (None if d.dev else _text_split(folder, "test"))
    if dev is None:
        raise SeqattnError(f"{folder}: no dev pairs; give data.dev")
    train = ShardedSplit(folder, manifest)
    enc_dev, enc_test = _encode_scored_splits(dev, test, subwords)
    log.info("data: %s train pairs streamed from %s (%d shards), %d dev, %s test pairs; vocab src %d / "
             "tgt %d", f"{len(train):,}", folder, len(train.names), len(enc_dev),
             len(enc_test) if enc_test else 0, subwords.src_vocab_size, subwords.tgt_vocab_size)
    return PreparedData(subwords, train, enc_dev, enc_test)


def load_data(cfg: Config, splits: tuple[ParallelText, ParallelText, ParallelText | None] | None,
              stream: Path | None, run_dir: Path, reuse: bool, build: bool = True) -> PreparedData:
    """The training data either way: in memory from `splits` (`stream` None), or streamed
    from the prepared folder `stream` (see `load_prepared`)."""
    if stream is None:
        return prepare_data(cfg.data, splits, run_dir, cfg.train.seed, reuse)
    return load_prepared(cfg, stream, run_dir, reuse, build)
