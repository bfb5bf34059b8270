"""The studio's API: /v1/explain, /v1/score, the search tree on /v1/translate, and every bad
request a clear 4xx."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")

from seqattn.config import build_config  # noqa: E402
from seqattn.model.seq2seq import Seq2Seq  # noqa: E402
from seqattn.translator import Translator  # noqa: E402


@pytest.fixture
def client(make_client, translator):
    cfg = translator.cfg.model_copy(deep=True)
    tree = cfg.model_dump(mode="json")
    tree["model"]["attention"]["type"] = "none"
    plain_cfg = build_config(tree)
    sub = translator.subwords
    plain = Translator(Seq2Seq(plain_cfg.model, sub.src_vocab_size, sub.tgt_vocab_size), sub, plain_cfg,
                       precision="fp32")
    return make_client({"tiny": translator, "plain": plain})


def test_explain_returns_every_step_with_the_models_numbers(client, translator):
    r = client.post("/v1/explain", json={"text": "alpha beta gamma"})
    assert r.status_code == 200
    body = r.json()
    assert body["search"] == "greedy" and body["formula"] == "score(s_t, h_j) = s_t^T W h_j"
    out = translator.translate(["alpha beta gamma"], beam=1)[0]
    assert body["output"] == out.text and body["src_tokens"] == out.src_tokens
    weights = np.array([s["weights"] for s in body["steps"]])
    np.testing.assert_allclose(weights, out.attention, atol=1e-4)
    step = body["steps"][0]
    assert step["fed"] == "<s>" and len(step["top"]) == 5 and step["chosen"] == step["top"][0]["token"]
    assert len(step["scores"]) == len(body["src_tokens"]) == len(body["encoder_states"])
    assert [s["fed"] for s in body["steps"][1:]] == [s["chosen"] for s in body["steps"][:-1]]


def test_score_matches_the_translator(client, translator):
    r = client.post("/v1/score", json={"source": "alpha beta", "target": "BETA ALPHA"})
    assert r.status_code == 200
    body = r.json()
    ref = translator.score(["alpha beta"], ["BETA ALPHA"])[0]
    assert body["tgt_tokens"] == ref.tgt_tokens
    np.testing.assert_allclose(body["logprobs"], ref.logprobs, atol=1e-5)
    assert body["score"] == pytest.approx(ref.score, abs=1e-5)
    np.testing.assert_allclose(np.array(body["attention"]).sum(1), 1.0, atol=1e-3)


def test_translate_can_return_the_search_tree(client):
    r = client.post("/v1/translate", json={"texts": ["alpha beta"], "beam": 5, "tree": True})
    assert r.status_code == 200
    tree = r.json()["results"][0]["tree"]
    assert tree and {n["status"] for n in tree} <= {"kept", "finished", "pruned"}
    assert all(len(n["attention"]) == len(r.json()["results"][0]["src_tokens"]) for n in tree)
    plain = client.post("/v1/translate", json={"texts": ["alpha beta"], "beam": 5})
    assert plain.json()["results"][0]["tree"] is None
    assert plain.json()["results"][0]["hypotheses"] == r.json()["results"][0]["hypotheses"]


@pytest.mark.parametrize("path,body,status,detail", [
    ("/v1/score", {"source": "alpha", "target": ""}, 422, "target is empty"),
    ("/v1/score", {"source": "", "target": "ALPHA"}, 422, "source is empty"),
    ("/v1/score", {"source": "alpha", "target": "A" * 1001}, 422, "target is 1001 characters long"),
    ("/v1/score", {"source": "alpha", "target": "ALPHA", "model": "nope"}, 404, "unknown model 'nope'"),
    ("/v1/score", {"source": "alpha"}, 422, "target"),
    ("/v1/explain", {"text": " "}, 422, "text is empty"),
    ("/v1/explain", {"text": " ".join(["alpha"] * 150)}, 422, "at most 100"),
    ("/v1/explain", {"text": "alpha", "model": "nope"}, 404, "unknown model"),
    ("/v1/translate", {"texts": ["alpha"], "model": "plain", "attention": True}, 422,
     "model 'plain' has no attention"),
    ("/v1/translate", {"texts": ["a"] * 5, "tree": True}, 422, "at most 4 texts"),
])
def test_bad_studio_requests_are_clear_4xx(client, path, body, status, detail):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"]


def test_a_model_without_attention_still_explains_and_scores(client):
    ex = client.post("/v1/explain", json={"text": "alpha beta", "model": "plain"}).json()
    assert ex["attention_type"] == "none" and ex["steps"][0]["weights"] is None
    sc = client.post("/v1/score", json={"source": "alpha", "target": "ALPHA", "model": "plain"}).json()
    assert sc["attention"] is None and len(sc["logprobs"]) == len(sc["tgt_tokens"])
