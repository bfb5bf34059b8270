"""The vocabularies of a run: SentencePiece subwords, or characters / symbols (`vocab.py`),
per side or joint, with fixed special-token ids, saved inside the run directory."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import sentencepiece as spm

from seqattn.atomic import atomic_write_bytes
from seqattn.config import SubwordConfig
from seqattn.data.vocab import SymbolVocab
from seqattn.errors import SeqattnError
from seqattn.rundir import SPM_JOINT, SPM_SRC, SPM_TGT, VOCAB_JOINT, VOCAB_SRC, VOCAB_TGT, vocab_files

PAD_ID, UNK_ID, SOS_ID, EOS_ID = 0, 1, 2, 3
SPECIALS = {"pad_id": PAD_ID, "unk_id": UNK_ID, "bos_id": SOS_ID, "eos_id": EOS_ID}


def _train_one(texts: Sequence[str], cfg: SubwordConfig, seed: int, kind: str) -> bytes:
    """The stored form of one vocabulary of type `kind` learnt from `texts`."""
    texts = [t for t in texts if t]
    if kind in ("char", "symbols"):
        return SymbolVocab.build(texts, kind, cfg.vocab_size).to_bytes()
    if len(texts) > cfg.max_sentences:
        pick = np.random.default_rng(seed).choice(len(texts), cfg.max_sentences, replace=False)
        texts = [texts[i] for i in np.sort(pick)]
    buffer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts),
            model_writer=buffer,
            model_type=kind,
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


def _processor(blob: bytes) -> spm.SentencePieceProcessor | SymbolVocab:
    if SymbolVocab.is_ours(blob):
        return SymbolVocab.from_bytes(blob)
    return spm.SentencePieceProcessor(model_proto=blob)


def _checked_blob(path: Path) -> bytes:
    """The bytes of a saved vocabulary, after checking that they are one of ours."""
    blob = path.read_bytes()
    if path.suffix == ".json":
        SymbolVocab.from_bytes(blob, str(path))
        return blob
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
    """Source and target vocabularies (one shared vocabulary when `joint`)."""

    def __init__(self, src_blob: bytes, tgt_blob: bytes | None = None):
        self.joint = tgt_blob is None
        self.src = _processor(src_blob)
        self.tgt = self.src if tgt_blob is None else _processor(tgt_blob)
        self._blobs = (src_blob, tgt_blob)

    @classmethod
    def train(cls, src_texts: Sequence[str], tgt_texts: Sequence[str], cfg: SubwordConfig,
              seed: int = 1) -> Subwords:
        src_kind, tgt_kind = cfg.types
        if cfg.joint:
            return cls(_train_one([*src_texts, *tgt_texts], cfg, seed, src_kind))
        return cls(_train_one(src_texts, cfg, seed, src_kind), _train_one(tgt_texts, cfg, seed + 1, tgt_kind))

    @staticmethod
    def _name(blob: bytes, spm_name: str, vocab_name: str) -> str:
        return vocab_name if SymbolVocab.is_ours(blob) else spm_name

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        src_blob, tgt_blob = self._blobs
        if self.joint:
            atomic_write_bytes(folder / self._name(src_blob, SPM_JOINT, VOCAB_JOINT), src_blob)
        else:
            atomic_write_bytes(folder / self._name(src_blob, SPM_SRC, VOCAB_SRC), src_blob)
            atomic_write_bytes(folder / self._name(tgt_blob, SPM_TGT, VOCAB_TGT), tgt_blob)

    @classmethod
    def load(cls, folder: str | Path) -> Subwords:
        folder = Path(folder)
        files = vocab_files(folder)
        if files is None:
            raise SeqattnError(f"{folder}: no vocabulary ({SPM_JOINT}, {SPM_SRC}+{SPM_TGT}, {VOCAB_JOINT} "
                               f"or {VOCAB_SRC}+{VOCAB_TGT})")
        return cls(*(_checked_blob(f) for f in files))

    @property
    def kinds(self) -> tuple[str, str]:
        """The source and target vocabulary types as stored: 'spm', 'char' or 'symbols'."""
        return tuple(getattr(v, "kind", "spm") for v in (self.src, self.tgt))

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
