"""Property tests (Hypothesis): subword round trips, the batcher, translate, and search endings."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from seqattn.config import SubwordConfig
from seqattn.data.batching import BucketBatcher
from seqattn.data.subword import EOS_ID, Subwords
from seqattn.search import BeamSearch, GreedySearch, max_lengths
from tests.model.helpers import padded_batch, tiny_model

PROPS = settings(max_examples=60, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-éüß가나다라마사람"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is as fast, and steadier when other work shares the CPU."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def subwords() -> dict[str, Subwords]:
    """BPE and unigram models that have seen every character of ALPHABET."""
    rng = random.Random(0)
    words = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 7))) for _ in range(3000)]
    lines = [" ".join(words[i : i + 6]) for i in range(0, len(words), 6)]
    return {kind: Subwords.train(lines, lines, SubwordConfig(type=kind, vocab_size=120, max_sentences=1000))
            for kind in ("bpe", "unigram")}


representable = st.lists(st.text(alphabet=ALPHABET, min_size=1, max_size=12), max_size=10).map(" ".join)


@PROPS
@given(text=representable, kind=st.sampled_from(["bpe", "unigram"]))
def test_tokenize_then_detokenize_gives_the_text_back(subwords, text, kind):
    sub = subwords[kind]
    ids = sub.encode_src([text])[0]
    assert sub.decode_tgt(ids) == text
    pieces = sub.src_pieces(ids)
    assert "".join(pieces).replace("\u2581", " ").strip() == text


@PROPS
@given(lengths=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=300),
       budget=st.one_of(st.tuples(st.integers(1, 40), st.none()),
                        st.tuples(st.just(1), st.integers(1, 400))),
       seed=st.integers(0, 2**31), epoch=st.integers(0, 5), pool=st.integers(1, 60))
def test_the_batcher_neither_drops_nor_duplicates_pairs(lengths, budget, seed, epoch, pool):
    src, tgt = zip(*lengths)
    batch_size, batch_tokens = budget
    batcher = BucketBatcher(list(src), list(tgt), batch_size, batch_tokens, seed, pool_batches=pool)
    batches = [list(b) for b in batcher.epoch(epoch)]
    assert all(batches)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    for b in batches:
        if batch_tokens is None:
            assert len(b) <= batch_size
        elif len(b) > 1:  # a single over-long pair gets a batch of its own
            width = max(max(src[i], tgt[i]) + 1 for i in b)
            assert width * len(b) <= batch_tokens
    again = [list(b) for b in BucketBatcher(list(src), list(tgt), batch_size, batch_tokens, seed,
                                            pool_batches=pool).epoch(epoch)]
    assert again == batches  # an epoch's order depends only on (seed, epoch): resumable


@pytest.fixture(scope="module")
def translator(trained_run):
    from seqattn.translator import Translator

    return Translator.load(trained_run, device="cpu")


odd = st.sampled_from(["", " ", "alpha beta", "\t\n", "😀", "\u200b", "\x00"])
unicode_texts = st.lists(st.text(st.characters(codec="utf-8"), max_size=25) | odd, max_size=6)


@PROPS
@given(texts=unicode_texts, beam=st.integers(1, 3), n_best=st.integers(1, 3), batch=st.integers(1, 4))
def test_translate_returns_one_result_per_input(translator, texts, beam, n_best, batch):
    n_best = min(n_best, beam)
    results = translator.translate(texts, beam=beam, n_best=n_best, batch_size=batch)
    assert [r.source for r in results] == texts
    for r in results:
        assert 1 <= len(r.hypotheses) <= n_best
        assert r.src_tokens[-1] == "</s>"
        for h in r.hypotheses:
            assert isinstance(h.text, str)
            if h.attention is not None:
                assert h.attention.shape == (len(h.tgt_tokens), len(r.src_tokens))


@PROPS
@given(seed=st.integers(0, 10_000), vocab=st.integers(5, 40), beam=st.integers(1, 5),
       n_best=st.integers(1, 5), a=st.floats(0.0, 2.0), b=st.integers(1, 8),
       attention=st.sampled_from(["none", "dot", "general", "additive", "scaled_dot"]),
       rnn=st.sampled_from(["lstm", "gru"]), feed=st.booleans(),
       lengths=st.lists(st.integers(1, 9), min_size=1, max_size=5))
def test_search_output_ends_with_eos_or_at_the_length_limit(seed, vocab, beam, n_best, a, b, attention,
                                                            rnn, feed, lengths):
    model = tiny_model(seed=seed, tgt_vocab=vocab, attention=attention, rnn=rnn,
                       input_feeding=feed and attention != "none")
    src, src_lengths = padded_batch(seed=seed, lengths=tuple(lengths))
    limits = max_lengths(src_lengths, a, b).tolist()
    n_best = min(n_best, beam)
    searches = [[[h] for h in GreedySearch(max_len_a=a, max_len_b=b).run(model, src, src_lengths)],
                BeamSearch(beam=beam, n_best=n_best, max_len_a=a, max_len_b=b).run(
                    model, src, src_lengths)]
    for hyps_per_sentence in searches:
        assert len(hyps_per_sentence) == len(lengths)
        for limit, hyps in zip(limits, hyps_per_sentence):
            assert 1 <= len(hyps) <= max(n_best, 1)
            for h in hyps:
                assert 1 <= len(h.tokens) <= limit
                assert EOS_ID not in h.tokens[:-1]
                ended = h.tokens[-1] == EOS_ID
                assert ended or len(h.tokens) == limit
                event("ended by EOS" if ended else "ended at the length limit")
                assert np.isfinite(h.score)
