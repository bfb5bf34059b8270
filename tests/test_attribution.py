"""Attributions against cases whose answer is known: copiers attribute output i to source i,
integrated gradients are complete, a token the output cannot depend on scores 0, contrastive
rows that compare a token with itself score 0, and the model is left as it was."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest
import torch

from seqattn.attribution import (
    METHODS,
    Attribution,
    AttributionError,
    attribute,
    attribute_ids,
    methods,
    row_objectives,
)
from seqattn.config import ModelConfig
from seqattn.data.batching import make_batch
from seqattn.data.subword import PAD_ID
from seqattn.ensemble import Ensemble
from seqattn.errors import SeqattnError
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search import forced_scores
from seqattn.translator import Translator
from tests.attribution_models import content_copier, copies, positional_copier

GRADIENT_METHODS = ("saliency", "input_x_gradient", "integrated_gradients")
COMPLETENESS = 1e-3  # |a row's integrated gradients summed - (f(x) - f(b))| <= 1e-3 (1 + |f(x) - f(b)|)


@pytest.fixture(scope="module")
def positional():
    model, draw = positional_copier(0)
    seqs = [draw() for _ in range(10)]
    assert copies(model, seqs), "the positional copier did not learn to copy"
    return model, seqs


@pytest.fixture(scope="module")
def content():
    model, draw = content_copier(0)
    seqs = [draw() for _ in range(10)]
    assert copies(model, seqs), "the content copier did not learn to copy"
    return model, seqs


@pytest.fixture(scope="module")
def translator(trained_run) -> Translator:
    return Translator.load(trained_run, device="cpu")


def _argmax_is_diagonal(scores: np.ndarray, n: int) -> bool:
    """Whether each output row's largest score, among the n source tokens, is its own column."""
    return bool((scores[:n, :n].argmax(axis=1) == np.arange(n)).all())


@pytest.mark.parametrize("method", ["integrated_gradients", "saliency", "attention"])
def test_a_copier_attributes_output_i_to_source_i(positional, method):
    model, seqs = positional
    for s in seqs:
        scores = attribute_ids(model, s, s, method)
        assert scores.shape == (len(s) + 1, len(s) + 1) and scores.dtype == np.float64
        assert _argmax_is_diagonal(scores, len(s)), (s, scores.round(2))


def test_occlusion_of_a_content_copier_points_at_the_copied_token(content):
    """Dropping a token shifts every later position: a copier that counts positions is hit by
    any drop before i, so occlusion's test is the copier that finds its next token by content."""
    model, seqs = content
    for s in seqs:
        assert _argmax_is_diagonal(attribute_ids(model, s, s, "occlusion"), len(s))


def _source_blind_model() -> Seq2Seq:
    """No attention, and an encoder whose states see only their own token (recurrent weights
    zero, forget gate shut): the decoder starts from the </s> state alone, so no other source
    token can change the output."""
    torch.manual_seed(0)
    cfg = ModelConfig.model_validate({
        "encoder": {"emb_size": 8, "hidden_size": 8, "dropout": 0.0, "bidirectional": False},
        "decoder": {"emb_size": 8, "hidden_size": 8, "dropout": 0.0}, "attention": {"type": "none"}})
    model = Seq2Seq(cfg, 12, 12).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-1.0, 1.0)  # large weights: what the source can change, it changes visibly
        model.encoder.rnn.weight_hh_l0.zero_()
        model.encoder.rnn.bias_ih_l0[8:16] = -30.0
        model.encoder.rnn.bias_hh_l0[8:16] = 0.0
    return model


@pytest.mark.parametrize("method", ["occlusion", *GRADIENT_METHODS])
def test_a_token_the_output_cannot_depend_on_scores_zero(method):
    model = _source_blind_model()
    scores = attribute_ids(model, [5, 6, 7], [8, 9], method, steps=8)
    np.testing.assert_allclose(scores[:, :3], 0.0, atol=1e-6)
    assert np.abs(scores[:, 3]).max() > 1e-4  # the </s> the decoder starts from does matter


def test_attention_needs_attention():
    with pytest.raises(AttributionError, match="this model has no attention"):
        attribute_ids(_source_blind_model(), [5, 6], [7], "attention")


def _all_pad_logprobs(model: Seq2Seq, n: int, target: list[int]) -> list[float]:
    """Forced scoring of `target` for integrated gradients' baseline: n + 1 <pad> tokens."""
    src = torch.full((1, n + 1), PAD_ID)
    return forced_scores(model, src, torch.tensor([n + 1]), [target])[0].logprobs


def _logprobs(model: Seq2Seq, source: list[int], target: list[int]) -> list[float]:
    b = make_batch([source], None, [0])
    return forced_scores(model, b.src, b.src_lengths, [target])[0].logprobs


def test_integrated_gradients_are_complete(positional):
    model, seqs = positional
    for s in seqs[:4]:
        scores = attribute_ids(model, s, s, "integrated_gradients")
        change = np.array(_logprobs(model, s, s)) - np.array(_all_pad_logprobs(model, len(s), s))
        assert np.all(np.abs(scores.sum(axis=1) - change) <= COMPLETENESS * (1 + np.abs(change)))
        np.testing.assert_allclose(row_objectives(model, s, s) - row_objectives(model, s, s, baseline=True),
                                   change, atol=1e-5)


def test_batched_integrated_gradients_equal_row_by_row(positional, monkeypatch):
    model, seqs = positional
    s = seqs[0]
    monkeypatch.setattr(methods, "ROWS_PER_PASS", 1)  # one row, one step per pass
    alone = attribute_ids(model, s, s, "integrated_gradients", steps=6)
    monkeypatch.setattr(methods, "ROWS_PER_PASS", 10**6)  # every row and step in one pass
    together = attribute_ids(model, s, s, "integrated_gradients", steps=6)
    np.testing.assert_allclose(alone, together, atol=1e-5)


def test_contrast_scores_why_this_token_rather_than_that(positional):
    model, seqs = positional
    s = seqs[0]
    other = [s[0], 4 if s[1] != 4 else 5, *s[2:-1]]  # differs at row 1; its </s> comes one row early
    rows = len(s) + 1
    differ = [t for t in range(rows) if t < len(other) + 1 and ([*other, 3][t] != [*s, 3][t])]
    assert differ == [1, len(s) - 1]
    for method in ("occlusion", *GRADIENT_METHODS):
        scores = attribute_ids(model, s, s, method, contrast_ids=other, steps=20)
        same = [t for t in range(rows) if t not in differ]
        assert np.all(scores[same] == 0.0), (method, scores[same])
        assert np.all(np.abs(scores[differ]).max(axis=1) > 1e-4), method
    scores = attribute_ids(model, s, s, "integrated_gradients", contrast_ids=other)
    for t in differ:  # log p(y_t) - log p(y'_t), with the same prefix y_<t, changed from the baseline
        rather = s[:t] + [[*other, 3][t]]
        mine = _logprobs(model, s, s)[t] - _all_pad_logprobs(model, len(s), s)[t]
        theirs = _logprobs(model, s, rather)[t] - _all_pad_logprobs(model, len(s), rather)[t]
        assert abs(scores[t].sum() - (mine - theirs)) <= COMPLETENESS * (1 + abs(mine - theirs))


def test_the_model_is_left_as_it_was(positional):
    model, seqs = positional
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    model.decoder.eval()  # a mix of modes, kept module by module
    modes = [m.training for m in model.modules()]
    try:
        for method in METHODS:
            attribute_ids(model, seqs[0], seqs[0], method, steps=4)
        assert [m.training for m in model.modules()] == modes
        assert all(p.grad is None for p in model.parameters())
        assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    finally:
        model.eval()


def test_words_sum_pieces_and_attention_rows_average():
    scores = np.arange(12, dtype=np.float64).reshape(3, 4)
    src, tgt = ["▁ab", "c", "▁d", "</s>"], ["▁x", "y", "</s>"]
    words = Attribution("saliency", src, tgt, scores).words()
    assert words.src_tokens == ["abc", "d", "</s>"] and words.tgt_tokens == ["xy", "</s>"]
    np.testing.assert_array_equal(words.scores, [[0 + 1 + 4 + 5, 2 + 6, 3 + 7], [8 + 9, 10, 11]])
    attention = Attribution("attention", src, tgt, scores).words()
    np.testing.assert_array_equal(attention.scores, [[(0 + 1 + 4 + 5) / 2, (2 + 6) / 2, (3 + 7) / 2],
                                                     [8 + 9, 10, 11]])
    letters = Attribution("occlusion", ["a", "b", "</s>"], ["c", "</s>"], scores[:2, :3]).words()
    assert letters.src_tokens == ["a", "b", "</s>"]  # no ▁ anywhere: letters stay units


def test_to_dict_round_trips_through_json(translator):
    a = attribute(translator, "alpha beta gamma", "occlusion", contrast="GAMMA")
    back = Attribution.from_dict(json.loads(json.dumps(a.to_dict(), allow_nan=False)))
    assert back.to_dict() == a.to_dict()
    np.testing.assert_allclose(back.scores, a.scores)
    assert a.contrasted is not None and len(a.contrasted) == len(a.tgt_tokens)
    assert a.settings["objective"].endswith("log p(y'_t | y_<t, x)")


def test_attention_is_the_forced_scoring_attention(translator):
    for sentence, output in (("alpha beta gamma", "GAMMA BETA ALPHA"), ("delta omega", "OMEGA ZETA DELTA")):
        a = attribute(translator, sentence, "attention", output=output)
        forced = translator.score([sentence], [output])[0]
        assert a.src_tokens == forced.src_tokens and a.tgt_tokens == forced.tgt_tokens
        np.testing.assert_allclose(a.scores, forced.attention, atol=1e-6)
        ig = attribute(translator, sentence, "integrated_gradients", output=output, steps=10)
        assert ig.scores.shape == a.scores.shape and ig.settings["steps"] == 10
        greedy = attribute(translator, sentence, "attention")
        assert greedy.output == translator.translate([sentence], beam=1)[0].text  # fp32: the same output
        assert greedy.settings["output"] == "greedy" and a.settings["output"] == "forced"


@pytest.mark.parametrize("kwargs, message", [
    ({"method": "lime"}, "unknown attribution method 'lime'"),
    ({"steps": 0}, "steps must be a whole number between 1 and 1000 (got 0)"),
    ({"steps": 1001}, "steps must be a whole number between 1 and 1000 (got 1001)"),
    ({"output": "  "}, "the output is empty"),
    ({"contrast": ""}, "the contrast is empty"),
    ({"sentence": " "}, "the sentence is empty"),
    ({"sentence": "alpha " * 101}, "attributions cover one short sentence: the sentence is"),
])
def test_bad_requests_get_one_line(translator, kwargs, message):
    args = {"sentence": "alpha beta", "method": "saliency", **kwargs}
    with pytest.raises(AttributionError) as caught:
        attribute(translator, args.pop("sentence"), args.pop("method"), **args)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert isinstance(caught.value, SeqattnError)


def test_ensembles_and_exported_models_are_refused(translator):
    with pytest.raises(AttributionError, match="an ensemble of 2 models has no single set of gradients"):
        attribute(Ensemble([translator, translator], names=["a", "b"]), "alpha", "saliency")
    exported = types.SimpleNamespace(subwords=translator.subwords, cfg=translator.cfg, model=None)
    with pytest.raises(AttributionError, match="an exported model runs without PyTorch"):
        attribute(exported, "alpha", "saliency")
    with pytest.raises(AttributionError, match="attributions need one PyTorch model"):
        attribute_ids(None, [5], [5], "saliency")


def test_notebooks_show_the_scores_and_a_heatmap(translator):
    a = attribute(translator, "alpha beta", "input_x_gradient", output="BETA ALPHA", contrast="BETA GAMMA")
    html = a._repr_html_()
    assert html.count("<tr>") == len(a.tgt_tokens) + 1
    assert 'alt="input x gradient (contrastive) heatmap' in html
    assert "rather than <b>" in html and "(not compared: 0)" in html and "data:image/png;base64," in html
    words = a.words()._repr_html_()
    assert "words" in words
