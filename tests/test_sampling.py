"""Sampling (`search/sampling.py`, `translate(..., sample=N)`, `--sample`, the API's `sample`):
draws follow the model's distribution, are reproducible for a seed and do not depend on the
batch; `top_k=1` is greedy search."""

from __future__ import annotations

import math

import pytest
import torch

from seqattn.cli import main
from seqattn.errors import SeqattnError
from seqattn.evaluate import score_split
from seqattn.search import GreedySearch, SampleSearch, TorchStepper, draw_tokens, sentence_seed
from seqattn.translator import Translator

from .model.helpers import padded_batch, tiny_model

LENGTHS = (7, 4, 1, 6, 3)


def chi_square_limit(df: int, z: float = 3.09) -> float:
    """The chi-square distribution's 0.999 quantile (z of the normal's), by Wilson and Hilferty."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi_square(counts: torch.Tensor, probs: torch.Tensor) -> tuple[float, int]:
    """Pearson's statistic of `counts` against `probs`, cells expecting under 5 pooled; its
    degrees of freedom."""
    expected = probs * counts.sum()
    big = expected >= 5
    obs = torch.cat([counts[big], counts[~big].sum()[None]])
    exp = torch.cat([expected[big], expected[~big].sum()[None]])
    keep = exp > 0
    return float(((obs[keep] - exp[keep]) ** 2 / exp[keep]).sum()), int(keep.sum()) - 1


def test_draws_follow_the_distribution_they_are_given():
    g = torch.Generator().manual_seed(0)
    logp = torch.log_softmax(torch.randn(1, 12, generator=g) * 2, -1)
    n = 20_000
    uniform = torch.rand(n, generator=g)
    for temperature, top_k, top_p in [(1.0, 0, 1.0), (0.5, 0, 1.0), (2.0, 4, 1.0), (1.0, 0, 0.8)]:
        tokens = draw_tokens(logp.expand(n, -1), uniform, temperature, top_k, top_p)
        probs = torch.softmax(logp[0] / temperature, -1)
        order = probs.argsort(descending=True, stable=True)
        kept = torch.zeros_like(probs, dtype=torch.bool)
        kept[order[: top_k or len(order)]] = True
        if top_p < 1:
            before = probs[order].cumsum(0) - probs[order]
            kept[order[before >= top_p]] = False
        target = probs * kept / (probs * kept).sum()
        counts = torch.bincount(tokens, minlength=12).float()
        assert counts[~kept].sum() == 0
        stat, df = chi_square(counts, target)
        assert stat < chi_square_limit(df), (temperature, top_k, top_p, stat, df)
    assert torch.equal(draw_tokens(logp.expand(5, -1), uniform[:5], top_k=1), logp.argmax(-1).expand(5))
    assert torch.equal(draw_tokens(logp.expand(5, -1), uniform[:5], top_p=1e-6), logp.argmax(-1).expand(5))


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_a_models_first_tokens_follow_its_softmax(temperature):
    """3,000 first tokens of one sentence (30 copies x 100 samples, fixed seeds) against the
    model's first-step distribution: Pearson's chi-square under its 0.999 quantile."""
    model = tiny_model(attention="additive", seed=2, tgt_vocab=12)
    src, lengths = padded_batch(lengths=(5,), seed=1)
    stepper = TorchStepper(model)
    with torch.no_grad():
        memory, state = stepper.encode(src, lengths)
        logits, _, _ = stepper.step(torch.full((1,), 2), state, memory)
    probs = torch.softmax(torch.log_softmax(logits[0], -1) / temperature, -1)
    copies = 30
    search = SampleSearch(samples=100, temperature=temperature, max_len_a=0.0, max_len_b=1)
    found = search.run(model, src.expand(copies, -1), lengths.expand(copies), seeds=range(copies))
    first = torch.tensor([h.tokens[0] for hyps in found for h in hyps])
    stat, df = chi_square(torch.bincount(first, minlength=12).float(), probs)
    assert stat < chi_square_limit(df), (stat, df)
    # each sample's score is its log-probability under the model itself (temperature 1)
    logp = torch.log_softmax(logits[0], -1)
    assert all(h.score == pytest.approx(float(logp[h.tokens[0]]), abs=1e-5) for h in found[0])


@pytest.mark.parametrize("attention,feed", [("general", False), ("additive", True)])
def test_top_k_one_is_greedy_search(attention, feed):
    model = tiny_model(attention=attention, input_feeding=feed, seed=4)
    src, lengths = padded_batch(lengths=LENGTHS)
    greedy = GreedySearch(max_len_a=1.0, max_len_b=5).run(model, src, lengths)
    search = SampleSearch(samples=3, top_k=1, temperature=1.7, max_len_a=1.0, max_len_b=5)
    sampled = search.run(model, src, lengths)
    for g, hyps in zip(greedy, sampled):
        assert all(h.tokens == g.tokens and h.score == pytest.approx(g.score, abs=1e-5) for h in hyps)


@pytest.mark.parametrize("row_multiple", [1, 4])
def test_samples_are_reproducible_and_batch_independent(row_multiple):
    model = tiny_model(attention="general", seed=6, tgt_vocab=15)
    src, lengths = padded_batch(lengths=LENGTHS)
    search = SampleSearch(samples=4, temperature=1.3, top_p=0.95, max_len_a=1.0, max_len_b=6,
                          row_multiple=row_multiple)
    seeds = [sentence_seed(11, i) for i in range(len(LENGTHS))]
    batched = search.run(model, src, lengths, seeds=seeds)
    assert [[h.tokens for h in s] for s in batched] == [[h.tokens for h in s] for s in
                                                        search.run(model, src, lengths, seeds=seeds)]
    for row, hyps in enumerate(batched):
        n = int(lengths[row])
        alone = search.run(model, src[row : row + 1, :n], lengths[row : row + 1], seeds=[seeds[row]])[0]
        assert [h.tokens for h in hyps] == [h.tokens for h in alone]
        assert [h.score for h in hyps] == pytest.approx([h.score for h in alone], abs=1e-4)
    other = search.run(model, src, lengths, seeds=[sentence_seed(12, i) for i in range(len(LENGTHS))])
    assert [[h.tokens for h in s] for s in other] != [[h.tokens for h in s] for s in batched]


@pytest.fixture(scope="module")
def translator(trained_run):
    return Translator.load(trained_run, device="cpu")


SOURCES = ["alpha beta gamma", "delta omega", "kappa", "zeta theta lambda sigma"]


def test_translate_samples(translator):
    drawn = translator.translate(SOURCES, sample=5, seed=3, temperature=1.2)
    assert all(len(t.hypotheses) == 5 for t in drawn)
    for i, (source, t) in enumerate(zip(SOURCES, drawn)):  # one by one, each with its position's seed
        alone = translator.translate([source], sample=5, seed=[sentence_seed(3, i)], temperature=1.2)[0]
        assert [h.text for h in alone.hypotheses] == [h.text for h in t.hypotheses]
    small = translator.translate(SOURCES, sample=5, seed=3, temperature=1.2, batch_size=1)
    assert [[h.text for h in t.hypotheses] for t in small] == [[h.text for h in t.hypotheses] for t in drawn]
    greedy = translator.translate(SOURCES, beam=1)
    assert [t.text for t in translator.translate(SOURCES, sample=2, top_k=1)] == [t.text for t in greedy]
    with_prefix = translator.translate(SOURCES, sample=3, prefix="ZETA")
    assert all(h.text.startswith("ZETA") for t in with_prefix for h in t.hypotheses)


@pytest.mark.parametrize("kwargs,words", [
    ({"sample": 101}, "samples must be between 0 (search) and 100 per input (got 101)"),
    ({"sample": 2, "temperature": 0.0}, "temperature must be more than 0 (got 0.0)"),
    ({"sample": 2, "top_p": 1.5}, "top_p must be more than 0 and at most 1 (got 1.5)"),
    ({"sample": 2, "top_p": 0.0}, "top_p must be more than 0 and at most 1 (got 0.0)"),
    ({"sample": 2, "top_k": -1}, "top_k must be 0 (no cut) or more (got -1)"),
    ({"sample": 2, "seed": -1}, "seed must be between 0 and 4294967295 (got -1)"),
    ({"sample": 2, "beam": 4}, "sampling draws outputs instead of searching"),
    ({"sample": 2, "tree": True}, "a search tree is beam search's: sampling draws none"),
])
def test_bad_sampling_is_refused_in_one_line(translator, kwargs, words):
    with pytest.raises(SeqattnError) as err:
        translator.translate(["alpha"], **kwargs)
    assert str(err.value).startswith(words) and "\n" not in str(err.value)


def test_the_sample_flags(trained_run, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("".join(s + "\n" for s in SOURCES), encoding="utf-8")
    argv = ["translate", str(trained_run), "--input", str(src), "--device", "cpu", "--precision", "fp32",
            "--sample", "3", "--seed", "9", "--top-p", "0.9"]
    assert main(argv) == 0
    rows = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    expected = Translator.load(trained_run, device="cpu").translate(SOURCES, sample=3, seed=9, top_p=0.9)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (str(i + 1), str(k + 1), h.text) for i, t in enumerate(expected) for k, h in enumerate(t.hypotheses)]
    assert main([*argv[:-4], "--sample", "2", "--temperature", "0"]) == 2
    assert capsys.readouterr().err.strip() == ("seqattn: error: temperature must be more than 0 (got 0.0); "
                                               "near 0 sampling approaches greedy search")


def test_the_api_samples(translator):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from seqattn.serve.app import create_app

    with TestClient(create_app({"tiny": translator})) as client:
        asked = {"texts": SOURCES, "sample": 3, "seed": 4, "top_k": 5}
        body = client.post("/v1/translate", json=asked).json()
        assert body["sample"] == 3
        expected = translator.translate(SOURCES, sample=3, seed=4, top_k=5)
        assert [[h["text"] for h in r["hypotheses"]] for r in body["results"]] == [
            [h.text for h in t.hypotheses] for t in expected]
        bad = client.post("/v1/translate", json={"texts": ["a"], "sample": 2, "top_p": 0})
        assert bad.status_code == 422 and bad.json()["detail"].startswith("top_p must be more than 0")


def test_the_configs_sample_count_makes_translate_sample_and_zero_searches(translator):
    cfg = translator.cfg.model_copy(deep=True)
    cfg.decode.sampling.samples = 2
    drawing = Translator(translator.model, translator.subwords, cfg, translator.device)
    assert [len(t.hypotheses) for t in drawing.translate(SOURCES)] == [2] * len(SOURCES)
    searched = drawing.translate(SOURCES, beam=1, sample=0)
    assert [t.text for t in searched] == [t.text for t in translator.translate(SOURCES, beam=1)]
    with pytest.raises(SeqattnError, match="sampling draws outputs instead of searching"):
        drawing.translate(SOURCES, beam=3)
    _, decoded = score_split(drawing, SOURCES, SOURCES, ["chrf"], beam=3)  # evaluate searches all the same
    assert decoded.outputs == [t.text for t in translator.translate(SOURCES, beam=3)]
