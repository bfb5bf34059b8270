"""Every knob of the server, once: `ServeOptions`, a typed schema whose fields carry their
help, bounds and flag.

The `seqattn serve` flags are made from it (`add_arguments`), read back into it
(`from_args`), and its checks run whenever one is made, from flags or from Python
(`create_app(..., max_texts=5)`), so a knob's name, type, default, help and limits are
written in one place. A field's flag is `--` and its name with dashes, unless it says
another. Imports nothing heavy.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any, get_type_hints

from seqattn.errors import SeqattnError
from seqattn.limits import MAX_BATCH_SENTENCES


def knob(default: Any, help: str | None = None, *, flag: str | None = None, metavar: str | None = "N",
         at_least: float | None = None, above: float | None = None, at_most: float | None = None,
         unit: str = "", choices: tuple[str, ...] | None = None, env: str | None = None) -> Any:
    """A ServeOptions field: its default, its flag's help (None: no flag), its bounds (`above`:
    exclusive), the `unit` its messages name, its choices, and `env`, a variable that gives the
    flag's default (a secret: kept out of the options' repr)."""
    return field(default=default, repr=env is None, metadata={
        "help": help, "flag": flag, "metavar": metavar, "at_least": at_least, "above": above,
        "at_most": at_most, "unit": unit, "choices": choices, "env": env})


SECONDS = {"metavar": "S", "above": 0, "at_most": 3600, "unit": " seconds"}


@dataclass
class ServeOptions:
    """Server knobs; the defaults suit one CPU model serving a few people or a load test.
    `run_server` reads the listening ones (host to header_timeout_s); `create_app` the rest."""

    host: str = knob("127.0.0.1", "address to listen on; the default is reachable from this machine only",
                     metavar="HOST")
    port: int = knob(8000, "port", metavar="PORT", at_least=0, at_most=65535)
    log_level: str = knob("info", "uvicorn's log level; warning hides the access log", metavar=None,
                          choices=("critical", "error", "warning", "info", "debug"))
    max_connections: int = knob(100, "open connections and requests at once; more get 503", at_least=1)
    idle_timeout_s: float = knob(5.0, "close a kept-alive connection idle for S seconds",
                                 flag="--idle-timeout", **SECONDS)
    header_timeout_s: float = knob(10.0, "close a connection whose request headers take longer than S "
                                   "seconds to arrive, with 408", flag="--header-timeout", **SECONDS)
    batching: bool = knob(True, "run one request per model call (to compare against batching)",
                          flag="--no-batching")
    batch_window_ms: float = knob(5.0, "how long an idle model waits to collect a batch", metavar="MS",
                                  at_least=0, at_most=1000)
    max_batch_sentences: int = knob(64, "sentences per model call", at_least=1, at_most=MAX_BATCH_SENTENCES)
    max_batch_tokens: int = knob(4096, "source subwords per model call", at_least=1)
    max_queue: int = knob(256, "sentences waiting per model before answering 503", at_least=1)
    retry_after: int = knob(1, at_least=0)  # seconds, in the 503's Retry-After header (no flag)
    max_texts: int = knob(64, "texts per request", at_least=1, at_most=MAX_BATCH_SENTENCES)
    max_chars: int = knob(1000, "characters per text", at_least=1)
    max_work: int = knob(2_000_000, "work per request: beam x longest output x source length, summed over "
                         "texts; more is answered 422", at_least=1)
    max_attention_cells: int = knob(4_000_000, "attention weights one request may ask for",
                                    flag="--max-attention", at_least=1)
    heavy_work: int = knob(300_000, "requests with more work than this run in a second lane with its own "
                           "worker, so they never hold up smaller ones", at_least=1)
    heavy_queue: int = knob(64, "sentences waiting in the heavy lane before answering 503", at_least=1)
    request_timeout_s: float = knob(60.0, "answer every request within S seconds: 408 for a body still "
                                    "arriving, 503 when the model has not answered",
                                    flag="--request-timeout", **SECONDS)
    api_key: str | None = knob(None, "require 'Authorization: Bearer KEY' on /v1/; the environment "
                               "variable keeps the key out of the process list", metavar="KEY",
                               env="SEQATTN_API_KEY")
    allowed_hosts: tuple[str, ...] = knob((), "serve only requests whose Host header is NAME (repeatable)",
                                          flag="--allow-host", metavar="NAME")
    ensembles: tuple[str, ...] = knob((), "serve the runs RUN1, RUN2, ... as one model (an ensemble) called "
                                      "NAME (repeatable; --ensemble-rule says how they combine)",
                                      flag="--ensemble", metavar="NAME=RUN1,RUN2")

    def __post_init__(self) -> None:
        self.api_key = self.api_key or None
        self.allowed_hosts = tuple(self.allowed_hosts)
        for f in fields(self):
            _check(f, getattr(self, f.name))

    @classmethod
    def of(cls, options: ServeOptions | None = None, **changes: Any) -> ServeOptions:
        """`options` (default: the defaults) with some fields changed; a TypeError names unknown ones."""
        unknown = set(changes) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown server option(s): {', '.join(sorted(unknown))}")
        return cls(**{**asdict(options or cls()), **changes})

    @classmethod
    def add_arguments(cls, p: argparse.ArgumentParser) -> None:
        """One flag per field that has a help text, with its type, default and choices."""
        types = get_type_hints(cls)
        for f in fields(cls):
            m = f.metadata
            if m["help"] is None:
                continue
            default = os.environ.get(m["env"]) if m["env"] else f.default
            text = m["help"] + _default_text(f, default)
            if types[f.name] is bool:  # a knob on by default: its flag turns it off
                p.add_argument(flag_of(f), dest=f.name, action="store_false", help=text)
            elif types[f.name] == tuple[str, ...]:
                p.add_argument(flag_of(f), dest=f.name, action="append", default=[], metavar=m["metavar"],
                               help=text)
            else:
                kind = next(t for t in (int, float, str) if t is types[f.name] or types[f.name] == t | None)
                p.add_argument(flag_of(f), dest=f.name, type=kind, default=default, choices=m["choices"],
                               metavar=m["metavar"], help=text)

    @classmethod
    def from_args(cls, a: argparse.Namespace) -> ServeOptions:
        """The options parsed flags give, checked (a SeqattnError names the flag)."""
        return cls(**{f.name: getattr(a, f.name) for f in fields(cls) if hasattr(a, f.name)})

    def batcher_options(self) -> dict[str, Any]:
        return {"batching": self.batching, "window_s": self.batch_window_ms / 1000.0,
                "max_sentences": self.max_batch_sentences, "max_tokens": self.max_batch_tokens,
                "max_queue": self.max_queue, "retry_after": self.retry_after}

    def heavy_options(self) -> dict[str, Any]:
        return {**self.batcher_options(), "max_queue": self.heavy_queue}


def flag_of(f: Any) -> str:
    """The command-line flag of a ServeOptions field."""
    return f.metadata["flag"] or "--" + f.name.replace("_", "-")


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _default_text(f: Any, default: Any) -> str:
    if f.metadata["env"]:
        return f" (default: ${f.metadata['env']})"
    if isinstance(default, bool) or default in (None, ()):
        return ""
    if isinstance(default, int) and default >= 10_000:
        return f" (default {default:,})"
    return f" (default {_number(default) if isinstance(default, (int, float)) else default})"


def _check(f: Any, value: Any) -> None:
    """A SeqattnError naming the flag when `value` is outside the field's bounds or choices."""
    m, name = f.metadata, flag_of(f)
    if m["choices"] and value not in m["choices"]:
        raise SeqattnError(f"{name} must be one of {', '.join(m['choices'])} (got {value!r})")
    low = m["at_least"] if m["at_least"] is not None else m["above"]
    if low is None or isinstance(value, bool):
        return
    fits = (value >= low if m["above"] is None else value > low) and (  # (nan and inf fail here)
        m["at_most"] is None or value <= m["at_most"])
    if not fits and m["at_most"] is None:
        raise SeqattnError(f"{name} must be at least {_number(low)} (got {value})")
    if not fits:
        raise SeqattnError(f"{name} must be between {_number(low)} and {_number(m['at_most'])}{m['unit']} "
                           f"(got {value})")
