"""From a DataConfig to encoded train/dev/test splits and the subword model."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from seqattn.config import DataConfig
from seqattn.data.corpus import ParallelText, read_corpus, split_corpus
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


def load_splits(cfg: DataConfig) -> tuple[ParallelText, ParallelText, ParallelText | None]:
    """Read train/dev/test as configured; carve dev and test out of train when absent."""
    train = read_corpus(cfg.train)
    if cfg.dev is None:
        train, dev, test = split_corpus(train, cfg.split)
        return train, dev, (read_corpus(cfg.test) if cfg.test else test)
    return train, read_corpus(cfg.dev), (read_corpus(cfg.test) if cfg.test else None)


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
    train: EncodedSplit
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
        log.info("training SentencePiece (%s, %d pieces, %s) on %d pairs", cfg.subword.type,
                 cfg.subword.vocab_size, "joint" if cfg.subword.joint else "per side", len(train))
        subwords = Subwords.train(train.src, train.tgt, cfg.subword, seed)
        subwords.save(run_dir)
    enc_train = encode_split(train, subwords, cfg.max_len, "train")
    if len(enc_train) == 0:
        raise SeqattnError(f"{train.origin}: no training pairs left after skipping empty and over-long ones")
    enc_dev = encode_split(dev, subwords, None, "dev")
    enc_test = encode_split(test, subwords, None, "test") if test is not None else None
    log.info("data: %d train, %d dev, %s test pairs; vocab src %d / tgt %d", len(enc_train),
             len(enc_dev), len(enc_test) if enc_test else 0, subwords.src_vocab_size,
             subwords.tgt_vocab_size)
    return PreparedData(subwords, enc_train, enc_dev, enc_test)
