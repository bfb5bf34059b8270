"""SentencePiece subwords with fixed special-token ids, saved inside the run directory."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from seqattn.atomic import atomic_write_bytes
from seqattn.config import SubwordConfig
from seqattn.errors import SeqattnError
from seqattn.rundir import SPM_JOINT, SPM_SRC, SPM_TGT

PAD_ID, UNK_ID, SOS_ID, EOS_ID = 0, 1, 2, 3
SPECIALS = {"pad_id": PAD_ID, "unk_id": UNK_ID, "bos_id": SOS_ID, "eos_id": EOS_ID}


def _train_one(texts: Sequence[str], cfg: SubwordConfig, seed: int) -> bytes:
    texts = [t for t in texts if t]
    if len(texts) > cfg.max_sentences:
        pick = np.random.default_rng(seed).choice(len(texts), cfg.max_sentences, replace=False)
        texts = [texts[i] for i in np.sort(pick)]
    buffer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=buffer,
            model_type=cfg.type,
            vocab_size=cfg.vocab_size,
            character_coverage=cfg.character_coverage,
            hard_vocab_limit=False,
            input_sentence_size=0,
            shuffle_input_sentence=False,
            num_threads=2,
            minloglevel=2,
            **SPECIALS,
        )
    except (RuntimeError, ValueError) as exc:  # (ValueError: a setting it cannot parse)
        raise SeqattnError(f"SentencePiece training failed: {exc}") from None
    return buffer.getvalue()


def _processor(blob: bytes) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_proto=blob)


def _checked_blob(path: Path) -> bytes:
    """The bytes of a saved SentencePiece model, after checking that they are one of ours."""
    blob = path.read_bytes()
    try:
        sp = _processor(blob)
    except RuntimeError:
        sp = None
    ours = sp is not None and sp.get_piece_size() > len(SPECIALS) and all(
        getattr(sp, name)() == value for name, value in SPECIALS.items())
    if not ours:
        what = "empty" if not blob else "not a SentencePiece model with seqattn's special tokens"
        raise SeqattnError(f"{path}: damaged subword model ({what}, {len(blob):,} bytes); "
                           "restore it from a backup or train the run again")
    return blob


class Subwords:
    """Source and target subword models (one shared model when `joint`)."""

    def __init__(self, src_blob: bytes, tgt_blob: bytes | None = None):
        self.joint = tgt_blob is None
        self.src = _processor(src_blob)
        self.tgt = self.src if tgt_blob is None else _processor(tgt_blob)
        self._blobs = (src_blob, tgt_blob)

    @classmethod
    def train(cls, src_texts: Sequence[str], tgt_texts: Sequence[str], cfg: SubwordConfig,
              seed: int = 1) -> Subwords:
        if cfg.joint:
            return cls(_train_one([*src_texts, *tgt_texts], cfg, seed))
        return cls(_train_one(src_texts, cfg, seed), _train_one(tgt_texts, cfg, seed + 1))

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        src_blob, tgt_blob = self._blobs
        if self.joint:
            atomic_write_bytes(folder / SPM_JOINT, src_blob)
        else:
            atomic_write_bytes(folder / SPM_SRC, src_blob)
            atomic_write_bytes(folder / SPM_TGT, tgt_blob)

    @classmethod
    def load(cls, folder: str | Path) -> Subwords:
        folder = Path(folder)
        if (folder / SPM_JOINT).is_file():
            return cls(_checked_blob(folder / SPM_JOINT))
        if (folder / SPM_SRC).is_file() and (folder / SPM_TGT).is_file():
            return cls(_checked_blob(folder / SPM_SRC), _checked_blob(folder / SPM_TGT))
        raise SeqattnError(f"{folder}: no SentencePiece model ({SPM_JOINT} or {SPM_SRC}+{SPM_TGT})")

    @property
    def src_vocab_size(self) -> int:
        return self.src.get_piece_size()

    @property
    def tgt_vocab_size(self) -> int:
        return self.tgt.get_piece_size()

    def encode_src(self, texts: Sequence[str]) -> list[list[int]]:
        return self.src.encode(list(texts))

    def encode_tgt(self, texts: Sequence[str]) -> list[list[int]]:
        return self.tgt.encode(list(texts))

    def decode_tgt(self, ids: Sequence[int]) -> str:
        return self.tgt.decode([int(i) for i in ids])

    def src_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self.src.id_to_piece(int(i)) for i in ids]

    def tgt_pieces(self, ids: Sequence[int]) -> list[str]:
        return [self.tgt.id_to_piece(int(i)) for i in ids]
