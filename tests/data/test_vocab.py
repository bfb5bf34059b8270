"""Letter-level vocabularies (`char`, `symbols`) and SentencePiece ones, per side: round trips,
unknown tokens, limits, storage, and the by-source split."""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqattn.config import SplitConfig, SubwordConfig
from seqattn.data.corpus import ParallelText, split_corpus
from seqattn.data.subword import UNK_ID, Subwords
from seqattn.data.vocab import SymbolVocab
from seqattn.errors import SeqattnError

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=5))
def test_char_vocabulary_round_trips_any_unicode(texts):
    vocab = SymbolVocab.build(texts, "char", 10_000)
    for t in texts:
        ids = vocab.encode(t)
        assert len(ids) == len(t) and UNK_ID not in ids
        assert vocab.decode(ids) == t  # spaces, tabs, marks, emoji: exactly as given


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=5))
def test_symbol_vocabulary_round_trips_up_to_spacing(texts):
    texts = [t for t in texts if t.split()] or ["x"]
    vocab = SymbolVocab.build(texts, "symbols", 10_000)
    for t in texts:
        assert vocab.decode(vocab.encode(t)) == " ".join(t.split())


# SentencePiece normalises (NFKC) and collapses spaces; on text that is already so, with
# characters it was trained on, it round-trips exactly
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789.,?!'-" + "가나다라마바사아자차카타파하좋은날씨"
ALPHABET = [c for c in LETTERS
            if unicodedata.normalize("NFKC", c) == c]
SPM_TEXT = st.lists(st.text(st.sampled_from(ALPHABET), min_size=1, max_size=8), min_size=1, max_size=6
                    ).map(" ".join)
TRAINING = [" ".join(ALPHABET[i:] + ALPHABET[:i]) for i in range(len(ALPHABET))] * 3


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
@settings(max_examples=60, deadline=None)
@given(text=SPM_TEXT)
def test_sentencepiece_vocabularies_round_trip(kind, text):
    sub = _SPM[kind]
    assert sub.decode_tgt(sub.encode_tgt([text])[0]) == text


_SPM = {kind: Subwords.train(TRAINING, TRAINING, SubwordConfig(type=kind, vocab_size=120), seed=1)
        for kind in ("bpe", "unigram")}


def test_unknown_characters_are_unk_and_counted():
    vocab = SymbolVocab.build(["abc"], "char", 100)
    assert vocab.encode("abz") == [vocab.ids["a"], vocab.ids["b"], UNK_ID]
    assert vocab.unknown == 1
    assert vocab.decode(vocab.encode("azb")) == "a⁇b"


def test_char_keeps_the_most_frequent_and_symbols_refuse_too_many():
    vocab = SymbolVocab.build(["aaab", "bc"], "char", 6)  # room for 2 after the 4 specials
    assert vocab.tokens == ["a", "b"]
    with pytest.raises(SeqattnError, match="3 distinct symbols but data.subword.vocab_size allows 2"):
        SymbolVocab.build(["A B C"], "symbols", 6)


def test_space_is_a_visible_piece():
    vocab = SymbolVocab.build(["a b"], "char", 100)
    assert [vocab.id_to_piece(i) for i in vocab.encode("a b")] == ["a", "▁", "b"]


def test_mixed_sides_save_and_load(tmp_path):
    cfg = SubwordConfig(src_type="char", tgt_type="bpe", joint=False, vocab_size=60)
    src = ["nation", "cat", "attention"] * 20
    tgt = ["N EY1 SH AH0 N", "K AE1 T", "AH0 T EH1 N SH AH0 N"] * 20
    sub = Subwords.train(src, tgt, cfg)
    assert sub.kinds == ("char", "spm")
    sub.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spm.tgt.model", "vocab.src.json"]
    again = Subwords.load(tmp_path)
    assert again.encode_src(["nation"]) == sub.encode_src(["nation"])
    assert again.decode_tgt(again.encode_tgt(["K AE1 T"])[0]) == "K AE1 T"


@pytest.mark.parametrize("damage", [b"", b"{not json", b'{"format": "seqattn-vocab-1", "kind": "char"}',
                                    b'{"format": "seqattn-vocab-1", "kind": "nope", "tokens": ["a"]}',
                                    b"[" * 5000])
def test_damaged_vocabulary_file_is_one_clear_error(tmp_path, damage):
    SymbolVocab.build(["ab"], "char", 10)
    (tmp_path / "vocab.json").write_bytes(damage)
    with pytest.raises(SeqattnError, match="vocab.json: damaged vocabulary"):
        Subwords.load(tmp_path)


def test_joint_vocabulary_needs_one_type():
    with pytest.raises(ValueError, match="joint vocabulary needs one type"):
        SubwordConfig(src_type="char", tgt_type="symbols")
    assert SubwordConfig(type="char", joint=True).types == ("char", "char")


def test_split_by_source_keeps_every_word_whole():
    words = [f"w{i}" for i in range(60)]
    src = [w for w in words for _ in range(1 + int(w[1:]) % 3)]  # 1 to 3 pronunciations each
    text = ParallelText(src, [f"{s} {k}" for k, s in enumerate(src)], "dict")
    train, dev, test = split_corpus(text, SplitConfig(dev_size=5, test_size=7, seed=3, by_source=True))
    sets = [set(part.src) for part in (train, dev, test)]
    assert [len(s) for s in sets] == [48, 5, 7]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert len(train) + len(dev) + len(test) == len(src)  # every pronunciation kept
    for part in (train, dev, test):  # all of a word's pronunciations together
        for w in set(part.src):
            assert part.src.count(w) == src.count(w)
    assert np.all(np.diff([src.index(s) for s in dev.src]) >= 0)  # in corpus order
