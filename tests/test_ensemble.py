"""Ensembles: several runs decoding as one model (`seqattn.ensemble`, `search/ensemble.py`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqattn
from seqattn.cli import main
from seqattn.ensemble import Ensemble
from seqattn.errors import SeqattnError
from seqattn.explain import explain, format_markdown, format_text
from seqattn.search.ensemble import combine
from seqattn.translator import Translator
from tests.deploy.runs import SENTENCES, make_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """Random-weight runs sharing one character vocabulary (two architectures), and one with a
    SentencePiece vocabulary."""
    base = tmp_path_factory.mktemp("ensemble")
    return {"a": make_run(base / "a", vocab="char", seed=0),
            "b": make_run(base / "b", vocab="char", seed=1, attention="additive", rnn="gru",
                          input_feeding=True, layers=2),
            "bpe": make_run(base / "bpe", vocab="bpe", seed=0)}


def _same(xs, ys, abs_tol=1e-5) -> None:
    for x, y in zip(xs, ys):
        assert [h.text for h in x.hypotheses] == [h.text for h in y.hypotheses]
        assert [h.score for h in x.hypotheses] == pytest.approx([h.score for h in y.hypotheses], abs=abs_tol)
        for h, g in zip(x.hypotheses, y.hypotheses):
            np.testing.assert_allclose(h.attention, g.attention, atol=abs_tol)


@pytest.mark.parametrize("rule", ["mean_logprob", "mean_prob"])
@pytest.mark.parametrize("beam,n_best", [(1, 1), (3, 3)])
def test_an_ensemble_of_one_or_of_two_copies_equals_the_model(runs, rule, beam, n_best):
    model = Translator.load(runs["a"], device="cpu")
    alone = model.translate(SENTENCES, beam=beam, n_best=n_best)
    for copies in (1, 2):
        ensemble = Ensemble.load([runs["a"]] * copies, device="cpu", rule=rule)
        _same(ensemble.translate(SENTENCES, beam=beam, n_best=n_best), alone)
    outputs = [t.text or "A" for t in alone]
    scored = model.score(SENTENCES, outputs)
    by_two = Ensemble.load([runs["a"]] * 2, device="cpu", rule=rule).score(SENTENCES, outputs)
    for s, e in zip(scored, by_two):
        assert e.logprobs == pytest.approx(s.logprobs, abs=1e-5)
        np.testing.assert_allclose(e.attention, s.attention, atol=1e-6)


@pytest.mark.parametrize("beam", [1, 4])
def test_batched_equals_one_by_one(runs, beam):
    ensemble = seqattn.load([runs["a"], runs["b"]], device="cpu")
    assert isinstance(ensemble, Ensemble)
    batched = ensemble.translate(SENTENCES, beam=beam, n_best=min(beam, 3), batch_size=len(SENTENCES))
    one_by_one = [ensemble.translate([s], beam=beam, n_best=min(beam, 3))[0] for s in SENTENCES]
    _same(batched, one_by_one)


def test_members_combine_per_step_by_the_rule():
    p = torch.log_softmax(torch.tensor([[2.0, 0.0, -1.0]]), -1)
    q = torch.log_softmax(torch.tensor([[0.0, 3.0, -1.0]]), -1)
    geometric = torch.log_softmax(combine([p, q], "mean_logprob"), -1)
    assert torch.allclose(geometric, torch.log_softmax((p + q) / 2, -1))
    mixture = combine([p, q], "mean_prob")
    assert torch.allclose(mixture.exp(), (p.exp() + q.exp()) / 2)
    assert torch.allclose(mixture.exp().sum(), torch.tensor(1.0))
    # the rules differ: the mixture keeps what one member is sure of
    assert not torch.allclose(geometric, mixture)


def test_the_ensembles_attention_is_the_members_mean(runs):
    a, b = (Translator.load(runs[k], device="cpu") for k in ("a", "b"))
    ensemble = Ensemble([a, b])
    out = ensemble.translate(["alpha beta"], beam=1)[0]
    forced_a, forced_b = (m.score(["alpha beta"], [out.text])[0] for m in (a, b))
    both = ensemble.score(["alpha beta"], [out.text])[0]
    np.testing.assert_allclose(both.attention, (forced_a.attention + forced_b.attention) / 2, atol=1e-6)
    np.testing.assert_allclose(both.attention.sum(-1), 1.0, atol=1e-5)


def test_explain_walks_an_ensemble(runs):
    ensemble = Ensemble.load([runs["a"], runs["b"]], device="cpu")
    ex = explain(ensemble, "alpha beta")
    assert ex.output_text == ensemble.translate(["alpha beta"], beam=1)[0].text
    assert ex.members == [str(runs["a"]), str(runs["b"])] and ex.encoder_states is None
    assert ex.formula == "mean of 2 members' attention"
    assert "mean of 2 members' attention" in format_text(ex) and "## 2.-4. The members" in format_markdown(ex)
    translated = ensemble.translate(["alpha beta"], beam=1)[0]
    np.testing.assert_allclose(ex.attention, translated.attention, atol=1e-6)


def test_different_vocabularies_are_refused_in_one_line(runs):
    with pytest.raises(SeqattnError) as err:
        Ensemble.load([runs["a"], runs["bpe"]], device="cpu")
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"{runs['bpe']} cannot join an ensemble with {runs['a']}: its source "
                           "vocabulary has")
    with pytest.raises(SeqattnError, match="unknown ensemble rule 'vote'"):
        Ensemble.load([runs["a"]], device="cpu", rule="vote")


def test_the_verbs_take_several_runs(runs, tmp_path, capsys, monkeypatch):
    src = tmp_path / "in.txt"
    src.write_text("".join(s + "\n" for s in SENTENCES[:3]), encoding="utf-8")
    assert main(["translate", str(runs["a"]), "--input", str(src), "--beam", "3", "--device", "cpu"]) == 0
    alone = capsys.readouterr().out
    assert main(["translate", str(runs["a"]), str(runs["a"]), "--input", str(src), "--beam", "3",
                 "--device", "cpu"]) == 0
    assert capsys.readouterr().out == alone
    assert main(["evaluate", str(runs["a"]), str(runs["b"]), "--src", str(src), "--ref", str(src),
                 "--metrics", "chrf", "--device", "cpu"]) == 0
    assert "ppl" in capsys.readouterr().out
    assert main(["explain", str(runs["a"]), str(runs["b"]), "alpha", "--device", "cpu",
                 "--ensemble-rule", "mean_prob"]) == 0
    assert "An ensemble of 2 members" in capsys.readouterr().out
    assert main(["score", str(runs["a"]), str(runs["b"]), "--src", str(src), "--tgt", str(src),
                 "--device", "cpu"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["translate", str(runs["a"]), str(runs["bpe"]), "--input", str(src)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot join an ensemble" in err[0]


def test_serve_an_ensemble_as_one_model(runs):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from seqattn.serve.app import create_app

    spec = f"both={runs['a']},{runs['b']}"
    with TestClient(create_app([runs["a"]], device="cpu", ensembles=(spec,))) as client:
        models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        assert models["both"]["members"] == ["run", "run-2"]  # basenames: no server paths
        assert models["run"]["members"] == []
        body = client.post("/v1/translate", json={"texts": SENTENCES, "model": "both", "beam": 3,
                                                  "n_best": 2}).json()
        expected = Ensemble.load([runs["a"], runs["b"]], device="cpu").translate(SENTENCES, beam=3, n_best=2)
        assert [[h["text"] for h in r["hypotheses"]] for r in body["results"]] == [
            [h.text for h in t.hypotheses] for t in expected]
        explained = client.post("/v1/explain", json={"text": "alpha", "model": "both"}).json()
        assert explained["members"] == ["run", "run-2"] and explained["encoder_states"] is None
        scored = client.post("/v1/score", json={"source": "alpha", "target": "A", "model": "both"})
        assert scored.status_code == 200
    with pytest.raises(SeqattnError, match="cannot join an ensemble"):
        create_app([runs["a"]], device="cpu", ensembles=(f"bad={runs['a']},{runs['bpe']}",))
    with pytest.raises(SeqattnError, match="--ensemble takes NAME=RUN1,RUN2"):
        create_app([runs["a"]], device="cpu", ensembles=("nameless",))


def test_an_ensemble_samples_and_continues_a_prefix_as_its_one_model_does(runs):
    model = Translator.load(runs["a"], device="cpu")
    pair = Ensemble.load([runs["a"]] * 2, device="cpu")
    for kwargs in ({"sample": 3, "seed": 2, "temperature": 1.5}, {"prefix": "ALPHA", "beam": 2, "n_best": 2}):
        _same(pair.translate(SENTENCES, **kwargs), model.translate(SENTENCES, **kwargs))
