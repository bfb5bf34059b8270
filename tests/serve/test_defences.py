"""The server defends its one model worker: byte limits however a body is sent, per-request
work and attention limits, an optional API key and Host allow-list, flag checks."""

from __future__ import annotations

import argparse
import json

import pytest

pytest.importorskip("fastapi")

from seqattn.errors import SeqattnError  # noqa: E402
from seqattn.serve.app import is_loopback  # noqa: E402
from seqattn.serve.args import add_serve_arguments, check_serve_args  # noqa: E402
from tests.conftest import WORDS  # noqa: E402


def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(make_client):
    client = make_client(max_texts=2, max_chars=10)  # limit: max(1 MiB, 12 x 2 x 10) = 1 MiB
    sent = {"n": 0}

    def body():  # no Content-Length: sent chunked
        yield b'{"texts": ["'
        for _ in range(4096):
            sent["n"] += 1024
            yield b"a" * 1024
        yield b'"]}'

    r = client.post("/v1/translate", content=body(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "at most 1048576" in r.json()["detail"]
    small = client.post("/v1/translate", content=iter([b'{"texts": ', b'["alpha beta"]}']),
                        headers={"Content-Type": "application/json"})
    assert small.status_code == 200, small.text  # a chunked body under the limit is served


def test_requests_asking_for_too_much_work_or_attention_get_422(make_client):
    client = make_client(max_work=5_000, max_attention_cells=300)
    long = " ".join(WORDS * 3)  # 30 words
    r = client.post("/v1/translate", json={"texts": [long] * 4, "beam": 8})
    assert r.status_code == 422 and "units of work" in r.json()["detail"]
    r = client.post("/v1/translate", json={"texts": ["alpha beta gamma"] * 3, "beam": 2, "n_best": 2,
                                           "attention": True})
    assert r.status_code == 422 and "attention matrices" in r.json()["detail"]
    ok = client.post("/v1/translate", json={"texts": ["alpha beta"], "beam": 2})
    assert ok.status_code == 200, ok.text


def test_api_key_is_required_on_the_api_and_the_page_stays_open(make_client):
    client = make_client(api_key="s3cret")
    assert client.post("/v1/translate", json={"texts": ["alpha"]}).status_code == 401
    wrong = client.post("/v1/translate", json={"texts": ["alpha"]}, headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    good = client.post("/v1/translate", json={"texts": ["alpha"]}, headers={"Authorization": "Bearer s3cret"})
    assert good.status_code == 200
    assert client.get("/healthz").status_code == 200 and client.get("/").status_code == 200


def test_host_allow_list(make_client):
    client = make_client(allowed_hosts=("mt.example.org",))
    assert client.get("/healthz").status_code == 421  # TestClient sends Host: testserver
    r = client.get("/healthz", headers={"Host": "mt.example.org:8000"})
    assert r.status_code == 200
    assert json.loads(client.get("/v1/models", headers={"Host": "evil.test"}).text)["detail"].startswith(
        "host 'evil.test' is not served here")


@pytest.mark.parametrize("flags, message", [
    (["--batch-window-ms", "inf"], "--batch-window-ms must be between 0 and 1000"),
    (["--batch-window-ms", "nan"], "--batch-window-ms must be between 0 and 1000"),
    (["--idle-timeout", "0"], "--idle-timeout must be between 0 and 3600"),
    (["--max-work", "0"], "--max-work must be at least 1"),
    (["--max-connections", "-5"], "--max-connections must be at least 1"),
])
def test_serve_flags_that_cannot_work_are_refused(flags, message):
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    with pytest.raises(SeqattnError, match=message):
        check_serve_args(parser.parse_args(["run", *flags]))


def test_loopback_addresses():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.2", "example.org"))
