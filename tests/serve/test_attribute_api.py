"""POST /v1/attribute: the library's attributions over HTTP (equal to `seqattn.attribution`'s, on
a worker thread, the heavy lane for heavy ones), listed in the OpenAPI schema, and every bad
request a 4xx in the library's words."""

from __future__ import annotations

import threading

import numpy as np
import pytest

pytest.importorskip("fastapi")

from seqattn.attribution import attribute  # noqa: E402
from seqattn.config import build_config  # noqa: E402
from seqattn.ensemble import Ensemble  # noqa: E402
from seqattn.model.seq2seq import Seq2Seq  # noqa: E402
from seqattn.serve.attribute import attribution_work  # noqa: E402
from seqattn.translator import Translator  # noqa: E402

TEXT, OUTPUT = "alpha beta gamma", "GAMMA BETA ALPHA"


@pytest.fixture
def client(make_client, translator):
    tree = translator.cfg.model_dump(mode="json")
    tree["model"]["attention"]["type"] = "none"
    plain_cfg = build_config(tree)
    sub = translator.subwords
    plain = Translator(Seq2Seq(plain_cfg.model, sub.src_vocab_size, sub.tgt_vocab_size), sub, plain_cfg,
                       precision="fp32")
    return make_client({"tiny": translator, "plain": plain, "pair": Ensemble([translator, translator])})


@pytest.mark.parametrize("method", ["integrated_gradients", "occlusion"])
def test_attribute_returns_the_librarys_attribution(client, translator, method):
    r = client.post("/v1/attribute", json={"text": TEXT, "method": method, "output": OUTPUT, "steps": 8})
    assert r.status_code == 200, r.text
    body = r.json()
    ref = attribute(translator, TEXT, method, output=OUTPUT, steps=8)
    assert body["model"] == "tiny" and body["method"] == method and body["units"] == "subwords"
    assert body["src_tokens"] == ref.src_tokens and body["tgt_tokens"] == ref.tgt_tokens
    np.testing.assert_allclose(body["scores"], ref.scores, rtol=1e-5, atol=1e-6)
    assert body["settings"]["output"] == "forced" and body["contrast_tokens"] is None
    assert (body["settings"]["steps"] == 8) == (method == "integrated_gradients")
    words = client.post("/v1/attribute", json={"text": TEXT, "method": method, "output": OUTPUT, "steps": 8,
                                               "words": True}).json()
    rolled = ref.words()
    assert words["units"] == "words" and words["src_tokens"] == rolled.src_tokens
    np.testing.assert_allclose(words["scores"], rolled.scores, rtol=1e-5, atol=1e-6)


def test_attention_is_the_forced_attention_and_contrast_marks_rows(client):
    att = client.post("/v1/attribute", json={"text": TEXT, "method": "attention", "output": OUTPUT}).json()
    forced = client.post("/v1/score", json={"source": TEXT, "target": OUTPUT}).json()
    assert att["tgt_tokens"] == forced["tgt_tokens"]
    np.testing.assert_allclose(att["scores"], forced["attention"], atol=1e-4)
    own = client.post("/v1/attribute", json={"text": TEXT, "method": "saliency"}).json()
    assert own["settings"]["output"] == "greedy"
    contrast = "GAMMA ALPHA ALPHA"
    body = client.post("/v1/attribute", json={"text": TEXT, "method": "input_x_gradient", "output": OUTPUT,
                                              "contrast": contrast}).json()
    assert body["contrast_tokens"][-1] == "</s>" and len(body["contrasted"]) == len(body["tgt_tokens"])
    for row, marked in zip(body["scores"], body["contrasted"]):
        if not marked:  # the same token on both sides: nothing to explain
            assert row == [0.0] * len(row)


def test_attributions_run_on_a_lane_thread_heavy_ones_on_the_heavy_lane(make_client, translator, monkeypatch):
    import seqattn.serve.attribute as route

    threads = []

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return attribute(*args, **kwargs)

    monkeypatch.setattr(route, "attribute", spy)
    client = make_client({"tiny": translator}, heavy_work=10_000)
    for method in ("attention", "integrated_gradients"):
        assert client.post("/v1/attribute", json={"text": TEXT, "method": method, "output": OUTPUT,
                                                  "steps": 200}).status_code == 200
    assert threads[0].startswith("seqattn-tiny_") and threads[1].startswith("seqattn-tiny-heavy"), threads


def test_the_schema_lists_attribute(client):
    schema = client.get("/openapi.json").json()
    op = schema["paths"]["/v1/attribute"]["post"]
    assert {"200", "422", "404"} <= set(op["responses"])
    props = schema["components"]["schemas"]["AttributeRequest"]["properties"]
    assert props["method"]["enum"] == ["attention", "saliency", "input_x_gradient", "integrated_gradients",
                                       "occlusion"]
    assert props["steps"]["maximum"] == 1000 and "baseline" in props["method"]["description"]


def test_work_counts_each_methods_passes():
    assert attribution_work("attention", 50, 10, 5) == 50
    assert attribution_work("integrated_gradients", 50, 10, 5) == 50 * attribution_work("saliency", 1, 10, 5)
    assert attribution_work("occlusion", 1, 10, 5) == 11 * 5 * 10


@pytest.mark.parametrize("body,status,detail", [
    ({"text": TEXT, "method": "shap"}, 422, "unknown attribution method 'shap' (choose from attention, "),
    ({"text": TEXT, "method": "saliency", "steps": 0}, 422,
     "steps must be a whole number between 1 and 1000"),
    ({"text": TEXT, "method": "saliency", "steps": 1001}, 422, "between 1 and 1000 (got 1001)"),
    ({"text": TEXT, "method": "saliency", "steps": "5"}, 422, "steps: Input should be a valid integer"),
    ({"text": " ", "method": "saliency"}, 422, "the sentence is empty"),
    ({"text": TEXT, "method": "saliency", "output": " "}, 422, "the output is empty"),
    ({"text": TEXT, "method": "saliency", "contrast": ""}, 422, "the contrast is empty"),
    ({"text": " ".join(["alpha"] * 150), "method": "saliency"}, 422, "at most 100"),
    ({"text": "a" * 1001, "method": "saliency"}, 422, "text is 1001 characters long (at most 1000)"),
    ({"text": TEXT, "method": "saliency", "model": "nope"}, 404, "unknown model 'nope'"),
    ({"text": TEXT, "method": "attention", "model": "plain"}, 422, "this model has no attention"),
    ({"text": TEXT, "method": "saliency", "model": "pair"}, 422, "an ensemble of 2 models has no single set"),
    ({"text": " ".join(["alpha"] * 8), "method": "integrated_gradients", "steps": 1000}, 422,
     "units of work (the model's own output counted at its length limit); at most 2,000,000"),
    ({"text": TEXT, "method": "saliency", "bogus": 1}, 422,
     "bogus: unknown field (the fields are text, method"),
    ({"method": "saliency"}, 422, "text: missing"),
])
def test_bad_attribute_requests_are_clear_4xx(client, body, status, detail):
    r = client.post("/v1/attribute", json=body)
    assert r.status_code == status, r.text
    assert detail in r.json()["detail"], r.json()["detail"]
