"""The request batcher: concurrent requests share model calls, keys never mix, the queue is bounded."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx2")

from seqattn.serve.app import create_app  # noqa: E402
from seqattn.serve.batcher import Batcher, QueueFull, ShuttingDown  # noqa: E402
from tests.conftest import WORDS  # noqa: E402
from tests.serve.conftest import async_client, run_async  # noqa: E402

SENTENCES = [" ".join(WORDS[(i + k) % len(WORDS)] for k in range(2 + i % 4)) for i in range(20)]


async def _fire(client, bodies):
    return await asyncio.gather(*(client.post("/v1/translate", json=b) for b in bodies))


def test_concurrent_requests_are_batched(translator):
    app = create_app({"tiny": translator}, batch_window_ms=50)

    async def scenario():
        async with async_client(app) as client:
            return await _fire(client, [{"texts": [s], "beam": 1} for s in SENTENCES])

    responses = run_async(scenario())
    assert [r.status_code for r in responses] == [200] * len(SENTENCES)
    expected = translator.translate(SENTENCES, beam=1)
    for sentence, r, exp in zip(SENTENCES, responses, expected):
        (res,) = r.json()["results"]
        assert res["source"] == sentence  # each client gets its own sentence back
        assert res["hypotheses"][0]["text"] == exp.text
    stats = app.state.slots["tiny"].batcher.stats
    assert stats.requests == len(SENTENCES)
    assert stats.batches < len(SENTENCES) and stats.largest_batch > 1, stats


def test_no_batching_runs_one_request_per_model_call(translator):
    app = create_app({"tiny": translator}, batching=False, batch_window_ms=50)

    async def scenario():
        async with async_client(app) as client:
            return await _fire(client, [{"texts": [s], "beam": 1} for s in SENTENCES[:8]])

    assert all(r.status_code == 200 for r in run_async(scenario()))
    stats = app.state.slots["tiny"].batcher.stats
    assert stats.batches == 8 and stats.largest_batch == 1


def test_different_beams_never_share_a_batch(translator):
    app = create_app({"tiny": translator}, batch_window_ms=50)
    keys = [(1, 1), (2, 1), (2, 2)]  # (beam, n_best): three groups that must not mix
    bodies = [{"texts": [s], "beam": keys[i % 3][0], "n_best": keys[i % 3][1]}
              for i, s in enumerate(SENTENCES[:6])]

    async def scenario():
        async with async_client(app) as client:
            return await _fire(client, bodies)

    responses = run_async(scenario())
    for body, r in zip(bodies, responses):
        assert r.status_code == 200
        assert (r.json()["beam"], r.json()["n_best"]) == (body["beam"], body["n_best"])
        (result,) = r.json()["results"]
        assert len(result["hypotheses"]) == body["n_best"]
        expected = translator.translate(body["texts"], beam=body["beam"], n_best=body["n_best"])[0]
        assert [h["text"] for h in result["hypotheses"]] == [h.text for h in expected.hypotheses]
    assert 3 <= app.state.slots["tiny"].batcher.stats.batches < 6


def _recording_batcher(**options):
    calls = []

    def run_batch(key, jobs):
        calls.append((key, [t for j in jobs for t in j.texts]))
        if any("boom" in t for j in jobs for t in j.texts):
            raise ValueError("boom")
        return [[f"{key}:{t}" for t in j.texts] for j in jobs]

    return Batcher(run_batch, **options), calls


def test_batches_group_by_key_and_keep_to_the_budget():
    batcher, calls = _recording_batcher(window_s=0.05, max_sentences=4)

    async def scenario():
        jobs = [batcher.submit([f"s{i}"], ("a" if i % 2 else "b"), tokens=1) for i in range(12)]
        results = await asyncio.gather(*jobs)
        await batcher.close()
        return results

    results = run_async(scenario())
    assert results == [[f"{'a' if i % 2 else 'b'}:s{i}"] for i in range(12)]
    assert all(len(texts) <= 4 for _, texts in calls)
    for key, texts in calls:  # every call holds one key only
        assert all((int(t[1:]) % 2 == 1) == (key == "a") for t in texts)
    assert len(calls) == 4  # 6 per key, 4 per call


def test_token_budget_splits_batches():
    batcher, calls = _recording_batcher(window_s=0.05, max_tokens=10)

    async def scenario():
        await asyncio.gather(*(batcher.submit([f"s{i}"], "k", tokens=4) for i in range(6)))
        await batcher.close()

    run_async(scenario())
    assert [len(texts) for _, texts in calls] == [2, 2, 2]


def test_a_failing_request_does_not_fail_its_batch_mates():
    batcher, calls = _recording_batcher(window_s=0.05)

    async def scenario():
        jobs = [batcher.submit([t], "k", tokens=1) for t in ["one", "boom", "three"]]
        results = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.close()
        return results

    one, boom, three = run_async(scenario())
    assert one == ["k:one"] and three == ["k:three"]
    assert isinstance(boom, ValueError)
    assert batcher.stats.failed == 1


def test_closed_batcher_refuses_work():
    batcher, _ = _recording_batcher()

    async def scenario():
        await batcher.close()
        with pytest.raises(ShuttingDown):
            await batcher.submit(["x"], "k", tokens=1)

    run_async(scenario())


def test_full_queue_answers_503_with_retry_after(translator):
    app = create_app({"tiny": translator}, max_queue=1, batch_window_ms=0)
    batcher = app.state.slots["tiny"].batcher
    started, release = threading.Event(), threading.Event()
    real = batcher.run_batch

    def blocking(key, jobs):
        started.set()
        assert release.wait(30)
        return real(key, jobs)

    batcher.run_batch = blocking

    async def scenario():
        async with async_client(app) as client:
            first = asyncio.create_task(client.post("/v1/translate", json={"texts": ["alpha"], "beam": 1}))
            while not started.is_set():  # the model is busy with the first request
                await asyncio.sleep(0.01)
            second = asyncio.create_task(client.post("/v1/translate", json={"texts": ["beta"], "beam": 1}))
            for _ in range(200):  # the second waits in the queue
                if batcher.stats.queued == 1:
                    break
                await asyncio.sleep(0.01)
            third = await client.post("/v1/translate", json={"texts": ["gamma"], "beam": 1})
            release.set()
            return third, await first, await second

    third, first, second = run_async(scenario())
    assert third.status_code == 503
    assert third.headers["Retry-After"] == "1"
    assert "busy" in third.json()["detail"] and "retry" in third.json()["detail"]
    assert first.status_code == 200 and second.status_code == 200
    assert batcher.stats.rejected == 1


def test_queue_full_is_an_exception_with_retry_after():
    exc = QueueFull(3, 10, 10)
    assert exc.retry_after == 3 and "retry in 3 s" in str(exc)


def test_window_only_delays_an_idle_model():
    """A lone request waits at most about the window; it does not wait for a full batch."""
    batcher, _ = _recording_batcher(window_s=0.02, max_sentences=64)

    async def scenario():
        start = time.perf_counter()
        await batcher.submit(["x"], "k", tokens=1)
        elapsed = time.perf_counter() - start
        await batcher.close()
        return elapsed

    assert run_async(scenario()) < 1.0
