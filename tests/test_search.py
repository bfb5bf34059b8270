import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqattn.search import BeamSearch, GreedySearch, max_lengths

from .model.helpers import padded_batch, tiny_model

EOS = 3


@pytest.mark.parametrize("attention", ["none", "general", "additive"])
@pytest.mark.parametrize("feed", [False, True])
def test_batched_greedy_equals_one_by_one(attention, feed):
    model = tiny_model(attention=attention, input_feeding=feed, seed=4)
    src, lengths = padded_batch(lengths=(7, 4, 1, 6, 3))
    batched = GreedySearch(max_len_a=1.0, max_len_b=5).run(model, src, lengths)
    for row, hyp in enumerate(batched):
        n = int(lengths[row])
        alone = GreedySearch(max_len_a=1.0, max_len_b=5).run(
            model, src[row : row + 1, :n], lengths[row : row + 1])[0]
        assert hyp.tokens == alone.tokens
        assert hyp.score == pytest.approx(alone.score, abs=1e-4)
        if attention != "none":
            assert hyp.attention.shape == (len(hyp.tokens), n)
            assert torch.allclose(torch.from_numpy(hyp.attention), torch.from_numpy(alone.attention),
                                  atol=1e-5)


@pytest.mark.parametrize("attention", ["none", "dot", "general"])
def test_beam_one_equals_greedy(attention):
    model = tiny_model(attention=attention, seed=5)
    src, lengths = padded_batch(lengths=(7, 4, 1, 6))
    greedy = GreedySearch(max_len_a=1.5, max_len_b=4).run(model, src, lengths)
    beam = BeamSearch(beam=1, alpha=0.0, max_len_a=1.5, max_len_b=4).run(model, src, lengths)
    for g, b in zip(greedy, beam):
        assert b[0].tokens == g.tokens
        assert b[0].score == pytest.approx(g.score, abs=1e-4)


@pytest.mark.parametrize("attention,feed,row_multiple", [("general", False, 1), ("additive", True, 1),
                                                        ("dot", False, 4), ("none", False, 3)])
def test_batched_beam_equals_one_by_one(attention, feed, row_multiple):
    """Batched across sentences and beams (shared memory rows, finished sentences dropped or
    kept as padding rows) gives what each sentence gets alone."""
    model = tiny_model(attention=attention, input_feeding=feed, seed=6)
    src, lengths = padded_batch(lengths=(7, 4, 1, 6, 2, 5, 3))
    batched = BeamSearch(beam=4, n_best=3, alpha=1.0, row_multiple=row_multiple).run(model, src, lengths)
    for row, hyps in enumerate(batched):
        n = int(lengths[row])
        alone = BeamSearch(beam=4, n_best=3).run(model, src[row : row + 1, :n], lengths[row : row + 1])[0]
        assert [h.tokens for h in hyps] == [h.tokens for h in alone]
        assert [h.score for h in hyps] == pytest.approx([h.score for h in alone], abs=1e-4)
        if attention != "none":
            for h, a in zip(hyps, alone):
                assert torch.allclose(torch.from_numpy(h.attention), torch.from_numpy(a.attention), atol=1e-5)


def test_greedy_padding_rows_change_nothing():
    model = tiny_model(attention="general", seed=8)
    src, lengths = padded_batch(lengths=(7, 4, 1, 6, 2, 5, 3))
    plain = GreedySearch(max_len_a=1.0, max_len_b=5).run(model, src, lengths)
    padded = GreedySearch(max_len_a=1.0, max_len_b=5, row_multiple=4).run(model, src, lengths)
    for p, q in zip(plain, padded):
        assert p.tokens == q.tokens
        assert p.score == pytest.approx(q.score, abs=1e-5)


def test_beam_returns_sorted_n_best_with_attention_rows_summing_to_one():
    model = tiny_model(attention="additive", seed=7)
    src, lengths = padded_batch()
    for hyps in BeamSearch(beam=5, n_best=5).run(model, src, lengths):
        assert len(hyps) == 5
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        for h in hyps:
            assert h.attention.shape[0] == len(h.tokens)
            assert torch.allclose(torch.from_numpy(h.attention).sum(-1), torch.ones(len(h.tokens)),
                                  atol=1e-5)


def test_wider_beam_never_scores_worse_than_greedy_at_alpha_zero():
    model = tiny_model(attention="general", seed=8)
    with torch.no_grad():  # EOS a little likelier, so that greedy ends every sentence in time
        model.decoder.output.bias[EOS] += 1.5
    src, lengths = padded_batch()
    greedy = GreedySearch().run(model, src, lengths)
    beam = BeamSearch(beam=6, alpha=0.0).run(model, src, lengths)
    assert all(g.tokens[-1] == EOS for g in greedy)  # (else the comparison below would not hold)
    for g, b in zip(greedy, beam):
        assert b[0].score >= g.score - 1e-4


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), beam=st.integers(1, 5), a=st.floats(0.0, 2.0), b=st.integers(1, 6))
def test_outputs_end_in_eos_or_at_the_length_limit(seed, beam, a, b):
    model = tiny_model(attention="general", seed=seed % 7)
    src, lengths = padded_batch(seed=seed)
    limits = max_lengths(lengths, a, b).tolist()
    search = BeamSearch(beam=beam, n_best=beam, max_len_a=a, max_len_b=b)
    for row, hyps in enumerate(search.run(model, src, lengths)):
        assert hyps
        for h in hyps:
            assert len(h.tokens) <= limits[row]
            assert h.tokens[-1] == EOS or len(h.tokens) == limits[row]
            assert EOS not in h.tokens[:-1]


def test_a_beam_wider_than_the_vocabulary_still_searches():
    """Found by the config fuzzer: beam 8 over 6 output tokens asked topk for more than it had."""
    model = tiny_model(attention="general", seed=9, tgt_vocab=6)
    src, lengths = padded_batch(lengths=(5, 3))
    for hyps in BeamSearch(beam=8, n_best=3, max_len_b=4).run(model, src, lengths):
        assert len(hyps) == 3
        assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
