"""Fixtures for the server tests: the tiny trained model, app clients, and a live uvicorn server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from seqattn.translator import Translator


@pytest.fixture(scope="session")
def translator(trained_run) -> Translator:
    return Translator.load(trained_run, device="cpu")


@pytest.fixture
def make_client(translator) -> Iterator[Callable[..., object]]:
    """make_client(**options) -> a started TestClient over an app serving the tiny model as 'tiny'."""
    from fastapi.testclient import TestClient

    from seqattn.serve.app import create_app

    clients = []

    def make(models=None, **options):
        app = create_app(models or {"tiny": translator}, **options)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@asynccontextmanager
async def async_client(app):
    """An httpx2 AsyncClient talking to `app` in this event loop, with its lifespan run."""
    import httpx2 as httpx  # the maintained fork, which starlette's TestClient also prefers

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", timeout=60) as client:
            yield client


def run_async(coro, timeout: float = 60.0):
    return asyncio.run(asyncio.wait_for(coro, timeout))


@contextmanager
def serve_app(app) -> Iterator[str]:
    """Serve `app` with uvicorn on a free 127.0.0.1 port in a thread; yields its URL."""
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()


@pytest.fixture(scope="module")
def live_server(translator) -> Iterator[SimpleNamespace]:
    """A real uvicorn server on 127.0.0.1 (a free port) in a thread, serving the tiny model."""
    pytest.importorskip("uvicorn")
    from seqattn.serve.app import create_app

    app = create_app({"tiny": translator}, batch_window_ms=20)
    with serve_app(app) as url:
        yield SimpleNamespace(url=url, app=app)


@pytest.fixture(scope="session")
def korean_runs(tmp_path_factory) -> dict[str, Path]:
    """Two tiny Korean -> English runs (seqattn.demo), general and additive attention, shared by
    the browser tests of the studio."""
    from seqattn.demo import train_korean_demo

    root = tmp_path_factory.mktemp("korean")
    return {"ko-general": train_korean_demo(root / "ko-general", steps=400),
            "ko-additive": train_korean_demo(root / "ko-additive", steps=400, attention="additive",
                                             overrides=["train.heatmaps=0"])}


@pytest.fixture(scope="session")
def studio_server(korean_runs) -> Iterator[SimpleNamespace]:
    """The studio's server on a free 127.0.0.1 port, serving both Korean runs."""
    pytest.importorskip("uvicorn")
    from seqattn.serve.app import create_app

    app = create_app({name: Translator.load(path, device="cpu") for name, path in korean_runs.items()},
                     batch_window_ms=5)
    with serve_app(app) as url:
        yield SimpleNamespace(url=url)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium for one browser test module (those modules skip without it)."""
    from playwright import sync_api

    from tests.serve.browser import chromium

    with chromium(sync_api) as b:
        yield b
