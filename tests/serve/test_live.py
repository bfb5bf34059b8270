"""A real uvicorn server on 127.0.0.1: concurrent clients over sockets get batched together."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from seqattn.serve.__main__ import main as serve_main  # noqa: E402
from tests.conftest import WORDS  # noqa: E402


def _post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url + "/v1/translate", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_threads_hitting_a_live_server_share_model_calls(live_server):
    stats = live_server.app.state.slots["tiny"].batcher.stats
    before = stats.batches
    sentences = [f"{WORDS[i % 10]} {WORDS[(i * 3) % 10]} {WORDS[(i * 7) % 10]}" for i in range(20)]
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda s: _post(live_server.url, {"texts": [s], "beam": 1}), sentences))
    assert [status for status, _ in answers] == [200] * 20
    assert [body["results"][0]["source"] for _, body in answers] == sentences
    assert stats.batches - before < 20


def test_live_server_bad_request_is_4xx(live_server):
    status, body = _post(live_server.url, {"texts": ["x"], "beam": 99})
    assert status == 422 and "beam" in body["detail"]


def test_serve_command_help_and_errors(capsys, tmp_path, trained_run):
    with pytest.raises(SystemExit) as exc:
        serve_main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ["--host", "--port", "--no-batching", "--batch-window-ms", "--max-queue", "--max-texts",
                 "--max-chars", "--max-batch-sentences", "--max-batch-tokens", "RUN_DIR"]:
        assert flag in out
    assert serve_main([str(tmp_path / "missing")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    assert serve_main([str(tmp_path), "--port", "70000"]) == 2
    assert "--port must be between 0 and 65535 (got 70000)" in capsys.readouterr().err
    with socket.socket() as busy:  # a port that is taken
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        assert serve_main([str(trained_run), "--port", str(busy.getsockname()[1])]) == 2
    assert "cannot listen on 127.0.0.1:" in capsys.readouterr().err
