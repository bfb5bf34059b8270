"""The HTTP API through FastAPI's TestClient: every endpoint, every bad request, never a 500."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx2")

from seqattn.config import CorpusSpec  # noqa: E402
from seqattn.serve.app import create_app  # noqa: E402
from seqattn.serve.registry import unique_names  # noqa: E402
from seqattn.serve.schemas import ModelList, TranslateResponse  # noqa: E402
from seqattn.translator import Translator  # noqa: E402

HANGUL = "저는 AI를 좋아합니다"


@pytest.fixture
def client(make_client):
    return make_client()


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["models"] == ["tiny"]
    assert body["limits"] == {"max_texts": 64, "max_chars": 1000, "max_beam": 64}
    assert body["batching"]["tiny"]["enabled"] is True


def test_models_lists_languages_vocab_and_architecture(client, translator):
    r = client.get("/v1/models")
    assert r.status_code == 200
    models = ModelList.model_validate(r.json())
    assert models.default == "tiny"
    (m,) = models.models
    assert (m.name, m.src_lang, m.tgt_lang) == ("tiny", "src", "tgt")
    assert m.src_vocab_size == translator.subwords.src_vocab_size
    assert m.tgt_vocab_size == translator.subwords.tgt_vocab_size
    assert m.default_beam == 3
    a = m.architecture
    assert (a.encoder.rnn, a.encoder.hidden_size, a.encoder.bidirectional) == ("lstm", 16, True)
    assert (a.decoder.rnn, a.decoder.hidden_size, a.attention) == ("lstm", 32, "general")
    assert a.parameters == sum(p.numel() for p in translator.model.parameters())


def _with_config(translator, **train_and_data):
    """A translator sharing `translator`'s weights, with train/data config fields replaced."""
    cfg = translator.cfg
    train = cfg.train.model_copy(update={k: v for k, v in train_and_data.items() if k == "samples"})
    data = cfg.data.model_copy(update={k: v for k, v in train_and_data.items() if k == "dev"})
    return Translator(translator.model, translator.subwords, cfg.model_copy(update={"train": train,
                                                                                    "data": data}))


def test_models_offer_examples_from_the_runs_own_samples(make_client, translator):
    korean = ["저는 AI를 좋아합니다", "오늘 날씨가 좋네요."]
    client = make_client({"tiny": translator, "ko": _with_config(translator, samples=korean)})
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["tiny"]["examples"] == ["alpha beta gamma"]  # conftest's train.samples
    assert models["ko"]["examples"] == korean


def test_models_without_samples_offer_dev_lines(make_client, translator, tmp_path):
    dev_src = Path(translator.cfg.data.dev.src)
    first = [line for line in dev_src.read_text(encoding="utf-8").splitlines() if line.strip()][:6]
    tsv = tmp_path / "dev.tsv"
    tsv.write_text("HELLO\tannyeong\n\nWORLD\tsegye\n" + "X\t" + "y" * 500 + "\n", encoding="utf-8")
    gone = CorpusSpec(src=str(tmp_path / "missing.src"), tgt=str(tmp_path / "missing.tgt"))
    client = make_client({
        "dev": _with_config(translator, samples=[]),
        "tsv": _with_config(translator, samples=[], dev=CorpusSpec(tsv=str(tsv))),
        "none": _with_config(translator, samples=[], dev=gone),
    })
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["dev"]["examples"] == first and len(first) == 6
    assert models["tsv"]["examples"] == ["annyeong", "segye"]  # source column; the long line skipped
    assert models["none"]["examples"] == []


def test_translate_matches_the_library(client, translator):
    texts = ["alpha beta gamma", "omega sigma", HANGUL]
    r = client.post("/v1/translate", json={"texts": texts})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = TranslateResponse.model_validate(r.json())
    assert (body.model, body.beam, body.n_best) == ("tiny", 3, 1)  # the run's decode.beam
    expected = translator.translate(texts, beam=3)
    assert [res.source for res in body.results] == texts
    for res, exp in zip(body.results, expected):
        assert res.src_tokens == exp.src_tokens and res.src_tokens[-1] == "</s>"
        (hyp,) = res.hypotheses
        assert hyp.text == exp.text and hyp.tgt_tokens == exp.tgt_tokens
        assert hyp.score == pytest.approx(exp.score, abs=1e-4)
        assert hyp.attention is None  # not asked for


def test_translate_with_attention_and_n_best(client):
    r = client.post("/v1/translate", json={"texts": ["alpha beta"], "beam": 3, "n_best": 3,
                                           "attention": True})
    assert r.status_code == 200
    (res,) = TranslateResponse.model_validate(r.json()).results
    assert len(res.hypotheses) == 3
    scores = [h.score for h in res.hypotheses]
    assert scores == sorted(scores, reverse=True)
    for hyp in res.hypotheses:
        att = np.array(hyp.attention)
        assert att.shape == (len(hyp.tgt_tokens), len(res.src_tokens))
        np.testing.assert_allclose(att.sum(axis=1), 1.0, atol=2e-3)


def test_hangul_is_echoed_as_utf8(client):
    r = client.post("/v1/translate", json={"texts": [HANGUL], "beam": 1})
    assert r.status_code == 200
    assert HANGUL.encode("utf-8") in r.content  # not \uXXXX escapes
    assert r.json()["results"][0]["source"] == HANGUL


def test_greedy_and_empty_sentence(client):
    r = client.post("/v1/translate", json={"texts": ["", "   "], "beam": 1})
    assert r.status_code == 200
    assert [res["src_tokens"] for res in r.json()["results"]] == [["</s>"], ["</s>"]]


def test_model_by_name_and_unique_names(make_client, translator, trained_run):
    client = make_client({"first": translator, "second": translator})
    r = client.post("/v1/translate", json={"texts": ["alpha"], "model": "second", "beam": 1})
    assert r.status_code == 200 and r.json()["model"] == "second"
    assert client.post("/v1/translate", json={"texts": ["alpha"], "beam": 1}).json()["model"] == "first"
    assert unique_names(["run", "run", "x", "run", ""]) == ["run", "run-2", "x", "run-3", "model"]
    app = create_app([trained_run, trained_run], device="cpu")  # run directories: named by basename
    assert list(app.state.slots) == [trained_run.name, f"{trained_run.name}-2"]


BAD_REQUESTS = [
    ({"texts": []}, 422, "texts is empty"),
    ({"texts": ["alpha"] * 65}, 422, "too many texts: 65 (at most 64"),
    ({"texts": ["ok", "a" * 1001]}, 422, "texts[1] is 1001 characters long (at most 1000"),
    ({"texts": ["alpha"], "model": "nope"}, 404, "unknown model 'nope'; loaded models: tiny"),
    ({"texts": ["alpha"], "beam": 0}, 422, "beam: Input should be greater than or equal to 1"),
    ({"texts": ["alpha"], "beam": 65}, 422, "beam: Input should be less than or equal to 64"),
    ({"texts": ["alpha"], "beam": 2, "n_best": 3}, 422, "n_best (3) must not exceed the beam size (2)"),
    ({"texts": ["alpha"], "n_best": 4}, 422, "n_best (4) must not exceed the beam size (3)"),
    ({"texts": ["alpha"], "n_best": 0}, 422, "n_best: Input should be greater than or equal to 1"),
    ({"texts": "alpha beta"}, 422, "texts: Input should be a valid list"),
    ({"texts": [1, 2]}, 422, "texts[0]: Input should be a valid string"),
    ({"texts": None}, 422, "texts: Input should be a valid list"),
    ({"texts": ["alpha"], "beam": "5"}, 422, "beam: Input should be a valid integer"),
    ({"texts": ["alpha"], "beam": 2.5}, 422, "beam: Input should be a valid integer"),
    ({"texts": ["alpha"], "attention": "yes"}, 422, "attention: Input should be a valid boolean"),
    ({"texts": ["alpha"], "model": 3}, 422, "model: Input should be a valid string"),
    ({"text": ["alpha"]}, 422, "texts: missing"),
    ({"texts": ["alpha"], "bem": 3}, 422, "bem: unknown field"),
    ({}, 422, "texts: missing"),
    (["alpha"], 422, "the request body must be a JSON object"),
]


@pytest.mark.parametrize("body,status,message", BAD_REQUESTS)
def test_bad_requests_get_a_clear_4xx(client, body, status, message):
    r = client.post("/v1/translate", json=body)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and message in detail, detail
    assert "Traceback" not in r.text


@pytest.mark.parametrize("content,headers,status,message", [
    (b"{not json", {"Content-Type": "application/json"}, 422, "not valid JSON"),
    (b"", {"Content-Type": "application/json"}, 422, "the request body is missing"),
    (b'{"texts": ["a\\ud800b"]}', {"Content-Type": "application/json"}, 422, "lone surrogate"),
    (b'{"texts": ["\xff\xfe"]}', {"Content-Type": "application/json"}, 400, "could not be parsed"),
    (b'{"texts": ["alpha"]}', {"Content-Type": "text/plain"}, 422, "Content-Type: application/json"),
])
def test_malformed_bodies(client, content, headers, status, message):
    r = client.post("/v1/translate", content=content, headers=headers)
    assert r.status_code == status, r.text
    assert message in r.json()["detail"]


def test_validation_errors_list_every_problem(client):
    r = client.post("/v1/translate", json={"texts": [1], "beam": "x", "attention": 2})
    assert r.status_code == 422
    body = r.json()
    assert {e["loc"] for e in body["errors"]} == {"texts[0]", "beam", "attention"}
    assert "expected an integer from 1 to 64" in body["detail"]


def test_wrong_method_and_unknown_path(client):
    assert client.get("/v1/translate").status_code == 405
    assert client.get("/v2/nothing").status_code == 404


def test_openapi_and_docs(client):
    schema = client.get("/openapi.json").json()
    assert {"/v1/translate", "/v1/models", "/healthz"} <= set(schema["paths"])
    request = schema["components"]["schemas"]["TranslateRequest"]
    assert set(request["properties"]) == {"texts", "model", "beam", "n_best", "attention", "tree", "prefix",
                                          "sample", "seed", "temperature", "top_k", "top_p"}
    responses = schema["paths"]["/v1/translate"]["post"]["responses"]
    assert {"200", "404", "422", "503"} <= set(responses)
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "http://" not in docs.text and "https://" not in docs.text  # no CDN: renders offline
    assert client.get("/redoc").status_code == 404  # FastAPI's ReDoc page needs a CDN: not served


def test_docs_assets_are_served_locally(client):
    docs = client.get("/docs").text
    for name, kind in [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "text/css")]:
        assert f"/docs-assets/{name}" in docs
        r = client.get(f"/docs-assets/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"] and len(r.content) > 10_000


def test_favicon(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.lstrip().startswith("<svg") and "</svg>" in r.text
    assert 'href="/favicon.ico"' in client.get("/docs").text


def test_page_and_static_files(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for marker in ['id="input"', 'id="translate"', 'id="output"', "/static/app.js", "/static/style.css",
                   'id="example-buttons"', 'href="/favicon.ico"']:
        assert marker in page.text
    assert "Zwei Hunde" not in page.text  # examples come from the served model (GET /v1/models)
    assert "http://" not in page.text and "https://" not in page.text  # no CDN: works offline
    for name, kind in [("app.js", "javascript"), ("style.css", "text/css")]:
        r = client.get(f"/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "https://" not in r.text
        assert r.headers["cache-control"] == "no-cache"  # revalidated: no module of an older version
        again = client.get(f"/static/{name}", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304
    assert client.get("/static/missing.js").status_code == 404


def test_static_files_ship_with_the_package():
    static = resources.files("seqattn.serve") / "static"
    assert {"index.html", "app.js", "style.css"} <= {p.name for p in static.iterdir()}


def test_deeply_nested_json_is_a_client_error(client):
    r = client.post("/v1/translate", content=b"[" * 5000 + b"]" * 5000,
                    headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422), r.text


def test_oversized_body_is_refused_before_reading(client):
    r = client.post("/v1/translate", content=b" " * ((1 << 20) + 1),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "at most 1048576" in r.json()["detail"]
