"""What stands between the network and the model worker.

ASGI layers (outermost first, as `create_app` adds them):
    Deadline    a request must be answered within `request_timeout_s`: 408 when its body is
                still arriving, 503 when the model has not answered; the work is dropped
    Gate        optional Host allow-list (421) and API key on /v1/ (401)
    BodyLimit   at most `limit` body bytes however they are sent (413)
Connection level (uvicorn's h11 protocol, `guarded_protocol`):
    a request's headers must arrive within `header_timeout_s` of its first byte (or of the
    connection opening): slow senders get 408 and are closed; connections beyond
    `max_open` are answered 503 and closed at once, so idle sockets cannot pile up.
`quiet_accept_errors` turns the event loop's report of a failed accept (no file
descriptors left) into one warning line every few seconds instead of a traceback each time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any

import h11
from fastapi.responses import JSONResponse
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("seqattn.serve")


class ErrorResponse(JSONResponse):
    """JSON with non-ASCII escaped: error messages may quote client input with lone surrogates."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode()


def error_response(status: int, message: str, headers: dict[str, str] | None = None,
                   **extra: Any) -> JSONResponse:
    """The API's error body: {"detail": one line, ...}."""
    return ErrorResponse({"detail": message, **extra}, status_code=status, headers=headers)


class BodyLimit:
    """Answer 413 for a body over `limit` bytes however it is sent (pure ASGI): before reading
    it when Content-Length says so, else as soon as the bytes read pass the limit."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            await self._refuse(int(length), scope, receive, send)
            return
        if length.isdigit() or scope.get("method") in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True  # no length given (chunked): read up to the limit
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                await self._refuse(size, scope, receive, send, at_least=True)
                return
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replayed() -> dict:
            return replay.pop() if replay else await receive()

        await self.app(scope, replayed, send)

    async def _refuse(self, size: int, scope: dict, receive: Any, send: Any, at_least: bool = False) -> None:
        what = f"over {self.limit}" if at_least else f"{size}"
        message = f"the request body is {what} bytes (at most {self.limit}); send fewer texts"
        await error_response(413, message)(scope, receive, send)


class Gate:
    """When configured: the Host header must be an allowed one (421 otherwise), and /v1/
    requests must carry the API key as "Authorization: Bearer KEY" (401 otherwise)."""

    def __init__(self, app: Any, api_key: str | None, allowed_hosts: Sequence[str]):
        self.app, self.api_key = app, api_key
        self.hosts = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1").lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if self.hosts and host not in self.hosts and name not in self.hosts:
                await error_response(421, f"host '{host}' is not served here (allowed: "
                                     f"{', '.join(sorted(self.hosts))})")(scope, receive, send)
                return
            given = headers.get(b"authorization", b"").decode("latin-1")
            if (self.api_key and scope["path"].startswith("/v1/")
                    and not secrets.compare_digest(given, f"Bearer {self.api_key}")):
                await error_response(401, "missing or wrong API key: send 'Authorization: Bearer KEY'",
                                     headers={"WWW-Authenticate": "Bearer"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


class Deadline:
    """Answer every request within `seconds`: a body still arriving then gets 408, a request
    still waiting for the model 503 (its queued work is dropped; a batch already running
    finishes unseen). A response already under way is cut off instead."""

    def __init__(self, app: Any, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done, started = scope.get("method") in ("GET", "HEAD"), False

        async def watched_receive() -> dict:
            nonlocal body_done
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def watched_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, watched_receive, watched_send), self.seconds)
        except asyncio.TimeoutError:
            if started:
                return
            if not body_done:
                response = error_response(408, f"the request body did not arrive within {self.seconds:g} s",
                                          headers={"Connection": "close"})
            else:
                response = error_response(
                    503, f"no answer within {self.seconds:g} s (the server's --request-timeout): send "
                    "fewer or shorter texts or a smaller beam, or retry later", headers={"Retry-After": "1"})
            await response(scope, receive, send)


def _raw_error(status: int, reason: str, message: str) -> bytes:
    body = json.dumps({"detail": message}).encode()
    return (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\nconnection: close\r\n"
            f"content-length: {len(body)}\r\n\r\n").encode() + body


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a header deadline and a cap on open connections."""

    header_timeout_s: float = 10.0
    max_open: int = 1000

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_open:
            transport.write(_raw_error(503, "Service Unavailable", f"too many open connections "
                                       f"(at most {self.max_open}); retry later"))
            transport.close()
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of a request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        timer, self._header_timer = getattr(self, "_header_timer", None), None
        if timer is not None:
            timer.cancel()

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_raw_error(408, "Request Timeout", "the request headers did not arrive "
                                            f"within {self.header_timeout_s:g} s"))
            self.transport.close()


def guarded_protocol(header_timeout_s: float, max_open: int) -> type[GuardedProtocol]:
    """A GuardedProtocol class with these limits (uvicorn takes a class)."""
    return type("SeqattnProtocol", (GuardedProtocol,), {"header_timeout_s": header_timeout_s,
                                                        "max_open": max_open})


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, every_s: float = 10.0) -> None:
    """Report failed accepts (out of file descriptors) as one warning line per `every_s`
    seconds, with a count, instead of a traceback each time; other errors as before."""
    previous = loop.get_exception_handler()
    state = {"last": 0.0, "count": 0}

    def handler(loop: asyncio.AbstractEventLoop, context: dict) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and "accept" in str(context.get("message", "")):
            state["count"] += 1
            now = time.monotonic()
            if now - state["last"] >= every_s:
                log.warning("cannot accept connections: %s (%d time(s) since the last report); the "
                            "server goes on with the connections it has", exc.strerror or exc, state["count"])
                state["last"], state["count"] = now, 0
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
