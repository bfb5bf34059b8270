"""The flags of `seqattn serve` (also `python -m seqattn.serve`); imports nothing heavy."""

from __future__ import annotations

import argparse
import os
from typing import Any

from seqattn.flags import add_precision_arguments


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    """Add the serve flags to `p` (a subparser of the `seqattn` command, or its own parser)."""
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="trained run directories; each is served under its basename, "
                   "the first is the default")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    add_precision_arguments(p)
    p.add_argument("--no-batching", dest="batching", action="store_false",
                   help="run one request per model call (to compare against batching)")
    p.add_argument("--batch-window-ms", type=float, default=5.0, metavar="MS",
                   help="how long an idle model waits to collect a batch (default 5)")
    p.add_argument("--max-batch-sentences", type=int, default=64, metavar="N",
                   help="sentences per model call (default 64)")
    p.add_argument("--max-batch-tokens", type=int, default=4096, metavar="N",
                   help="source subwords per model call (default 4096)")
    p.add_argument("--max-queue", type=int, default=256, metavar="N",
                   help="sentences waiting per model before answering 503 (default 256)")
    p.add_argument("--max-texts", type=int, default=64, metavar="N", help="texts per request (default 64)")
    p.add_argument("--max-chars", type=int, default=1000, metavar="N",
                   help="characters per text (default 1000)")
    p.add_argument("--max-work", type=int, default=2_000_000, metavar="N",
                   help="work per request: beam x longest output x source length, summed over texts "
                   "(default 2,000,000; more is answered 422)")
    p.add_argument("--max-attention", type=int, default=4_000_000, metavar="N",
                   help="attention weights one request may ask for (default 4,000,000)")
    p.add_argument("--heavy-work", type=int, default=300_000, metavar="N",
                   help="requests with more work than this run in a second lane with its own worker, "
                   "so they never hold up smaller ones (default 300,000)")
    p.add_argument("--heavy-queue", type=int, default=64, metavar="N",
                   help="sentences waiting in the heavy lane before answering 503 (default 64)")
    p.add_argument("--request-timeout", type=float, default=60.0, metavar="S",
                   help="answer every request within S seconds: 408 for a body still arriving, 503 "
                   "when the model has not answered (default 60)")
    p.add_argument("--header-timeout", type=float, default=10.0, metavar="S",
                   help="close a connection whose request headers take longer than S seconds to "
                   "arrive, with 408 (default 10)")
    p.add_argument("--max-connections", type=int, default=100, metavar="N",
                   help="open connections and requests at once; more get 503 (default 100)")
    p.add_argument("--idle-timeout", type=float, default=5.0, metavar="S",
                   help="close a kept-alive connection idle for S seconds (default 5)")
    p.add_argument("--api-key", default=os.environ.get("SEQATTN_API_KEY"), metavar="KEY",
                   help="require 'Authorization: Bearer KEY' on /v1/ (default: $SEQATTN_API_KEY; "
                   "the environment keeps it out of the process list)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="serve only requests whose Host header is NAME (repeatable)")
    p.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"], default="info")


def serve_kwargs(a: argparse.Namespace) -> dict[str, Any]:
    """run_server's keyword arguments from parsed flags."""
    return {"host": a.host, "port": a.port, "device": a.device, "precision": a.precision,
            "quantize": a.quantize, "log_level": a.log_level,
            "batching": a.batching, "batch_window_ms": a.batch_window_ms,
            "max_batch_sentences": a.max_batch_sentences, "max_batch_tokens": a.max_batch_tokens,
            "max_queue": a.max_queue, "max_texts": a.max_texts, "max_chars": a.max_chars,
            "max_work": a.max_work, "max_attention_cells": a.max_attention,
            "max_connections": a.max_connections, "idle_timeout_s": a.idle_timeout,
            "heavy_work": a.heavy_work, "heavy_queue": a.heavy_queue,
            "request_timeout_s": a.request_timeout, "header_timeout_s": a.header_timeout,
            "api_key": a.api_key or None, "allowed_hosts": tuple(a.allow_host)}


def check_serve_args(a: argparse.Namespace) -> None:
    """Raise SeqattnError for flag values that can't work."""
    from seqattn.errors import SeqattnError

    if not 0 <= a.port <= 65535:
        raise SeqattnError(f"--port {a.port}: must be between 0 and 65535")
    for flag in ("max_batch_sentences", "max_batch_tokens", "max_queue", "max_texts", "max_chars",
                 "max_work", "max_attention", "max_connections", "heavy_work", "heavy_queue"):
        if getattr(a, flag) < 1:
            raise SeqattnError(f"--{flag.replace('_', '-')} must be at least 1")
    if not 0 <= a.batch_window_ms <= 1000:  # (also refuses inf and nan)
        raise SeqattnError(f"--batch-window-ms must be between 0 and 1000 (got {a.batch_window_ms})")
    for flag in ("idle_timeout", "request_timeout", "header_timeout"):
        value = getattr(a, flag)
        if not 0 < value <= 3600:  # (also refuses inf and nan)
            raise SeqattnError(f"--{flag.replace('_', '-')} must be between 0 and 3600 seconds (got {value})")


def run_from_args(a: argparse.Namespace) -> int:
    """Check the flags, load the runs and serve until interrupted; errors are SeqattnError."""
    from seqattn.errors import SeqattnError

    check_serve_args(a)
    try:
        from seqattn.serve.app import run_server
    except ImportError as exc:
        raise SeqattnError(f"serving needs FastAPI and uvicorn ({exc}); install them with "
                           "pip install fastapi uvicorn") from None
    return run_server(a.run_dirs, **serve_kwargs(a))
