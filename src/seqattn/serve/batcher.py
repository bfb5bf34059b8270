"""Coalesce concurrent requests into model batches and run them off the event loop.

One `Batcher` per model. Requests wait in a bounded queue, grouped by a key (beam, n_best):
requests with different keys never share a batch. A collector task takes the oldest group,
waits a short window for more requests of the same key (only when the model is idle: requests
that arrived while the model was busy go at once), and hands up to a sentence/token budget to
the model's single worker thread, so torch is never called concurrently for one model. While a
batch runs, new requests pile up and form the next, larger batch: throughput grows with load.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any


class QueueFull(Exception):
    """The queue holds as many sentences as it may; the client should retry after a while."""

    def __init__(self, retry_after: int, queued: int, limit: int):
        super().__init__(f"the server is busy ({queued} sentences queued, limit {limit}); "
                         f"retry in {retry_after} s")
        self.retry_after = retry_after


class ShuttingDown(Exception):
    """The batcher was closed while the request waited."""


@dataclass
class Job:
    """One request: its texts, its group key, its cost, and the future its handler awaits."""

    texts: list[str]
    key: Hashable
    tokens: int
    payload: Any
    future: asyncio.Future
    arrival: float


@dataclass
class BatcherStats:
    requests: int = 0  # accepted requests
    sentences: int = 0  # accepted sentences
    batches: int = 0  # model calls
    rejected: int = 0  # requests answered 503 (queue full)
    failed: int = 0  # requests whose batch raised
    largest_batch: int = 0  # most requests in one model call
    queued: int = 0  # sentences waiting now (not counting the batch being run)
    busy_seconds: float = 0.0  # time the worker spent in model calls

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


# run_batch(key, jobs) -> one result per job, in order; called on the worker thread.
RunBatch = Callable[[Hashable, list[Job]], list[Any]]


@dataclass
class _State:
    """Per-event-loop state (tests may run the same app under several loops)."""

    loop: asyncio.AbstractEventLoop
    wakeup: asyncio.Event
    task: asyncio.Task | None = None
    pending: dict[Hashable, deque[Job]] = field(default_factory=dict)


class Batcher:
    """Queue, group and batch requests for one model; see the module docstring."""

    def __init__(self, run_batch: RunBatch, *, name: str = "model", batching: bool = True,
                 window_s: float = 0.005, max_sentences: int = 64, max_tokens: int = 4096,
                 max_queue: int = 256, retry_after: int = 1):
        if max_sentences < 1 or max_tokens < 1 or max_queue < 1 or window_s < 0:
            raise ValueError("batch budgets and queue size must be positive, the window >= 0")
        self.run_batch, self.name, self.batching = run_batch, name, batching
        self.window_s, self.max_sentences, self.max_tokens = window_s, max_sentences, max_tokens
        self.max_queue, self.retry_after = max_queue, retry_after
        self.stats = BatcherStats()
        self.running = False  # a batch is on the worker thread now
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"seqattn-{name}")
        self._state: _State | None = None
        self._closed = False

    # ------------------------------------------------------------------ public

    async def submit(self, texts: list[str], key: Hashable, tokens: int, payload: Any = None) -> Any:
        """Queue one request and wait for its result; raises QueueFull when the queue is full."""
        if self._closed:
            raise ShuttingDown("the server is shutting down")
        state = self._ensure_started()
        queued = self.stats.queued
        if queued > 0 and queued + len(texts) > self.max_queue:
            self.stats.rejected += 1
            raise QueueFull(self.retry_after, queued, self.max_queue)
        job = Job(list(texts), key, tokens, payload, state.loop.create_future(), state.loop.time())
        state.pending.setdefault(key, deque()).append(job)
        self.stats.requests += 1
        self.stats.sentences += len(texts)
        self.stats.queued += len(texts)
        state.wakeup.set()
        return await job.future

    async def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn()` on this lane's worker thread, between batches (never beside one)."""
        if self._closed:
            raise ShuttingDown("the server is shutting down")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def close(self) -> None:
        """Stop the collector, fail waiting requests, and release the worker thread."""
        self._closed = True
        state, self._state = self._state, None
        if state is not None:
            if state.task is not None:
                state.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                    await state.task
            for group in state.pending.values():
                for job in group:
                    if not job.future.done():
                        job.future.set_exception(ShuttingDown("the server is shutting down"))
        self._executor.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ internals

    def _ensure_started(self) -> _State:
        """The collector for the running loop (started on first use; restarted if it died)."""
        loop = asyncio.get_running_loop()
        old = self._state
        if old is not None and old.loop is loop and old.task is not None and not old.task.done():
            return old
        same_loop = old is not None and old.loop is loop
        if not same_loop:
            self.stats.queued = 0  # jobs of another (finished) loop can never run
        state = _State(loop, asyncio.Event(), pending=old.pending if same_loop else {})
        state.task = loop.create_task(self._collect(state), name=f"batcher-{self.name}")
        self._state = state
        if state.pending:
            state.wakeup.set()
        return state

    def _live(self, group: deque[Job]) -> list[Job]:
        return [j for j in group if not j.future.done()]

    def _full(self, group: deque[Job]) -> bool:
        live = self._live(group)
        return (sum(len(j.texts) for j in live) >= self.max_sentences
                or sum(j.tokens for j in live) >= self.max_tokens)

    def _take(self, state: _State, key: Hashable) -> list[Job]:
        """Pop the group's jobs that fit the budget (at least one); drop cancelled ones."""
        group = state.pending[key]
        jobs: list[Job] = []
        sentences = tokens = 0
        while group:
            job = group[0]
            if job.future.done():  # its client went away
                group.popleft()
                self.stats.queued -= len(job.texts)
                continue
            if jobs and (not self.batching or sentences + len(job.texts) > self.max_sentences
                         or tokens + job.tokens > self.max_tokens):
                break
            group.popleft()
            self.stats.queued -= len(job.texts)
            jobs.append(job)
            sentences += len(job.texts)
            tokens += job.tokens
        if not group:
            del state.pending[key]
        return jobs

    async def _collect(self, state: _State) -> None:
        loop = state.loop
        while True:
            while not state.pending:
                state.wakeup.clear()
                await state.wakeup.wait()
            key = min(state.pending, key=lambda k: state.pending[k][0].arrival)
            group = state.pending[key]
            if self.batching:
                deadline = group[0].arrival + self.window_s
                while not self._full(group) and (left := deadline - loop.time()) > 0:
                    state.wakeup.clear()
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(state.wakeup.wait(), left)
            jobs = self._take(state, key)
            if jobs:
                await self._run(loop, key, jobs)

    async def _run(self, loop: asyncio.AbstractEventLoop, key: Hashable, jobs: list[Job]) -> None:
        self.stats.batches += 1
        self.stats.largest_batch = max(self.stats.largest_batch, len(jobs))
        start = time.perf_counter()
        try:
            self.running = True
            try:
                results = await loop.run_in_executor(self._executor, self.run_batch, key, jobs)
            finally:
                self.running = False
            if len(results) != len(jobs):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(jobs)} jobs")
        except Exception as exc:  # handed to the waiting handlers
            self.stats.busy_seconds += time.perf_counter() - start
            if len(jobs) > 1:  # find the request that fails; the others still get answers
                for job in jobs:
                    await self._run(loop, key, [job])
                return
            self.stats.failed += 1
            if not jobs[0].future.done():
                jobs[0].future.set_exception(exc)
            return
        self.stats.busy_seconds += time.perf_counter() - start
        for job, result in zip(jobs, results):
            if not job.future.done():
                job.future.set_result(result)
