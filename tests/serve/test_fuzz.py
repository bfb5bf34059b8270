"""Fuzz the API: arbitrary JSON (and raw bytes) never gets a 500, and every 200 matches the schema."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

pytest.importorskip("fastapi")
pytest.importorskip("httpx2")

from seqattn.serve.schemas import TranslateResponse  # noqa: E402

FUZZ = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
sentences = st.text(alphabet=st.characters(codec="utf-8"), max_size=40) | st.sampled_from(
    ["alpha beta gamma", "저는 AI를 좋아합니다", "Zwei Hunde spielen im Schnee.", ""])
surrogates = st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3)  # lone surrogates
near_valid = st.fixed_dictionaries(
    {"texts": st.lists(sentences, max_size=5) | json_values},
    optional={
        "model": st.none() | st.sampled_from(["tiny", "other", ""]) | json_values,
        "beam": st.none() | st.integers(-2, 70) | json_values,
        "n_best": st.integers(-2, 70) | json_values,
        "attention": st.booleans() | json_values,
        "extra": json_values,
    },
)

mostly_valid = st.fixed_dictionaries(
    {"texts": st.lists(sentences, min_size=1, max_size=5)},
    optional={"model": st.sampled_from([None, "tiny"]), "beam": st.none() | st.integers(1, 8),
              "n_best": st.integers(1, 3), "attention": st.booleans()},
)

@pytest.fixture(scope="module")
def fuzz_client(translator):
    from fastapi.testclient import TestClient

    from seqattn.serve.app import create_app

    with TestClient(create_app({"tiny": translator}, max_texts=5, max_chars=60)) as client:
        yield client


def _check(response, sent=None) -> None:
    event(f"HTTP {response.status_code}")  # see --hypothesis-show-statistics
    assert response.status_code < 500, response.text
    body = response.json()
    if response.status_code == 200:
        parsed = TranslateResponse.model_validate(body)
        if isinstance(sent, dict):
            assert [r.source for r in parsed.results] == sent["texts"]
            assert all(1 <= len(r.hypotheses) <= sent.get("n_best", 1) for r in parsed.results)
    else:
        assert isinstance(body["detail"], str) and body["detail"]


@FUZZ
@given(body=mostly_valid | near_valid | json_values)
def test_any_json_body_gets_a_4xx_or_a_valid_answer(fuzz_client, body):
    _check(fuzz_client.post("/v1/translate", json=body), body)


@FUZZ
@given(raw=st.binary(max_size=80) | st.builds(lambda v: json.dumps(v).encode(), near_valid)
       | st.builds(lambda t: json.dumps({"texts": t}).encode(), st.lists(surrogates, min_size=1, max_size=3)))
def test_any_bytes_get_a_4xx_or_a_valid_answer(fuzz_client, raw):
    _check(fuzz_client.post("/v1/translate", content=raw, headers={"Content-Type": "application/json"}))


@FUZZ
@given(path=st.sampled_from(["/", "/healthz", "/v1/models", "/docs", "/openapi.json", "/static/app.js"]),
       method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD"]))
def test_other_endpoints_never_500(fuzz_client, path, method):
    assert fuzz_client.request(method, path).status_code < 500
