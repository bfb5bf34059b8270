"""Connection-level and time limits of a live server: slow headers and bodies, too many open
sockets, requests that take too long, running out of file descriptors, and heavy requests
that must not hold up light ones."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest

pytest.importorskip("uvicorn")

from seqattn.serve.guards import quiet_accept_errors  # noqa: E402
from tests.conftest import WORDS  # noqa: E402
from tests.processes import started, stop_group  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 30) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _post(url: str, body: dict, timeout: float = 120) -> tuple[int, float]:
    request = urllib.request.Request(url + "/v1/translate", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    return status, time.perf_counter() - started


@pytest.fixture(scope="module")
def server(trained_run) -> Iterator[SimpleNamespace]:
    """`seqattn serve` in its own process, with short timeouts and a low descriptor limit."""
    port = _free_port()
    limit = 200  # file descriptors the server may hold (soft = hard: it cannot raise them)

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    cmd = [sys.executable, "-m", "seqattn", "serve", str(trained_run), "--port", str(port), "--precision",
           "fp32", "--header-timeout", "1", "--request-timeout", "2", "--max-connections", "10",
           "--log-level", "warning"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=low_limit,
                            env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if _get(url + "/healthz", timeout=2) == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"server did not start: {proc.stderr.read().decode()}")
        time.sleep(0.2)
    try:
        yield SimpleNamespace(url=url, port=port, proc=proc)
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    finally:
        stop_group(proc)  # (whatever happened: nothing left running)
    text = err.decode(errors="replace")
    assert "Traceback" not in text, text[-3000:]


def _read_all(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except TimeoutError:
        pass
    return b"".join(chunks)


def test_slow_headers_get_408_and_the_connection_closes(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        started = time.monotonic()
        answer = _read_all(s, 10)
        assert answer.startswith(b"HTTP/1.1 408") and b"headers did not arrive within 1 s" in answer
        assert time.monotonic() - started < 5
    with socket.create_connection(("127.0.0.1", server.port)) as s:  # silent from the start
        assert _read_all(s, 10).startswith(b"HTTP/1.1 408")
    assert _get(server.url + "/healthz") == 200


def test_a_body_that_never_arrives_gets_408(server):
    with socket.create_connection(("127.0.0.1", server.port)) as s:
        s.sendall(b"POST /v1/translate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"texts\": [")
        answer = _read_all(s, 10)
    assert answer.startswith(b"HTTP/1.1 408") and b"body did not arrive within 2 s" in answer


def test_open_connections_are_capped_and_the_server_recovers(server):
    cap = 40  # 4 x --max-connections
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(cap + 20)]
    try:
        refused = 0
        for s in idle[cap:]:
            answer = _read_all(s, 0.5)
            refused += answer.startswith(b"HTTP/1.1 503") and b"too many open connections" in answer
        assert refused >= 15
    finally:
        for s in idle:
            s.close()
    time.sleep(0.5)
    assert _get(server.url + "/healthz") == 200


def test_running_out_of_descriptors_costs_no_traceback(server):
    # the server may hold 200 descriptors; 400 connections at once go past what it can accept
    opened = []
    try:
        for _ in range(400):
            try:
                opened.append(socket.create_connection(("127.0.0.1", server.port), timeout=2))
            except OSError:
                break
        time.sleep(1.5)
    finally:
        for s in opened:
            s.close()
    time.sleep(1.5)  # (the idle ones were closed by the header timeout meanwhile)
    assert _get(server.url + "/healthz") == 200
    assert server.proc.poll() is None  # (no traceback: checked when the fixture stops it)


def test_a_failed_accept_is_one_warning_line(caplog):
    loop = asyncio.new_event_loop()
    try:
        quiet_accept_errors(loop, every_s=60)
        error = OSError(24, "Too many open files")
        with caplog.at_level(logging.WARNING, logger="seqattn.serve"):
            for _ in range(1000):
                loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                             "exception": error})
        lines = [r for r in caplog.records if "cannot accept connections" in r.getMessage()]
        assert len(lines) == 1 and "Too many open files" in lines[0].getMessage()
        assert not any(r.exc_info for r in caplog.records)
    finally:
        loop.close()


def test_a_request_the_model_cannot_answer_in_time_gets_503(make_client, translator):
    client = make_client(request_timeout_s=0.5)
    slot = client.app.state.slots["tiny"]
    real = slot.run_batch

    def slow(key, jobs):
        time.sleep(1.5)
        return real(key, jobs)

    slot.run_batch = slow
    slot.batcher.run_batch = slow
    r = client.post("/v1/translate", json={"texts": ["alpha beta"]})
    assert r.status_code == 503 and "no answer within 0.5 s" in r.json()["detail"]
    assert r.headers["retry-after"] == "1"


def _normal_latencies(url: str, n: int, clients: int = 3) -> list[float]:
    sentences = [" ".join(WORDS[(i + k) % 10] for k in range(4)) for i in range(n)]

    def one(text: str) -> float:
        status, seconds = _post(url, {"texts": [text], "beam": 5})
        assert status == 200
        return seconds

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, sentences))


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def test_an_abusive_client_does_not_slow_normal_clients_more_than_twice(server):
    _normal_latencies(server.url, 30)  # warm up
    alone = _p95(_normal_latencies(server.url, 120))
    long_text = " ".join(WORDS[k % 10] for k in range(30))
    for n in (16, 8, 4, 2, 1):  # the heaviest request the server's work limit lets through
        abuse = {"texts": [long_text] * n, "beam": 64, "n_best": 8}
        if _post(server.url, abuse)[0] != 422:
            break
    stop, answered = threading.Event(), []

    def abuser() -> None:
        while not stop.is_set():
            answered.append(_post(server.url, abuse)[0])

    threads = [threading.Thread(target=abuser) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        shared = _p95(_normal_latencies(server.url, 120))
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert answered and set(answered) <= {200, 503}  # the abuser is served, or told to retry
    assert shared <= 2 * alone, f"normal p95 {shared * 1e3:.1f} ms with the abuser, {alone * 1e3:.1f} alone"


@pytest.mark.parametrize("signum", ["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("after", [0.3, 1.5])
def test_a_signal_while_serve_starts_stops_it_cleanly(trained_run, signum, after):
    import signal

    cmd = [sys.executable, "-m", "seqattn", "serve", str(trained_run), "--port", str(_free_port())]
    with started(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        time.sleep(after)  # during imports and model loading
        proc.send_signal(getattr(signal, signum))
        _, err = proc.communicate(timeout=30)
    err = err.decode(errors="replace")
    assert "Traceback" not in err, err[-2000:]
    # 130 and one line, whether it was loading or uvicorn had started (then it stops gracefully
    # first); killed by the signal only when it landed in Python's own start-up (no output)
    if proc.returncode != 130:
        assert proc.returncode == -getattr(signal, signum) and "seqattn" not in err, (proc.returncode, err)
    else:
        assert err.strip().splitlines()[-1] == f"seqattn: interrupted by {signum}"
