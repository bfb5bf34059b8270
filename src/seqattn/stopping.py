"""How a `seqattn` command stops on Ctrl-C (SIGINT) or SIGTERM, wherever the signal lands.

A handler that raises `KeyboardInterrupt` is only as safe as the instant it runs at: inside a
`__del__`, a weakref callback or some C code, Python prints "Exception ignored" and carries
on. So the handlers here never raise. The process entry (`seqattn.program`) calls `install()`
as its first instruction; from then on a signal either

- **stops the process now** (the default): the registered clean-ups run (`on_stop`: remove a
  half-made run, delete a temporary file), worker processes are killed, one line
  `seqattn: interrupted by SIGINT ...` goes to stderr and the process exits with status 130; or
- **is noted** inside `deferred()` (a training loop that saves a checkpoint first): the code
  checks `Deferral.signal` at its safe points and stops there; a second signal stops at once.

A Python handler runs between two bytecodes of the main thread, so a signal that lands inside
one long call into C (a SentencePiece training, one large tensor operation) acts when it
returns. Without `install()` (seqattn used as a library, e.g. in a notebook) Python's own
Ctrl-C handling applies and `deferred()` installs its flag handlers only for its duration.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)
STATUS = 130  # what a shell reports for Ctrl-C, for both signals


class Deferral:
    """While active, the first signal is only noted here; the code stops at its next safe point."""

    def __init__(self, note: str = ""):
        self.signal: str | None = None  # the signal's name once one arrived
        self.note = note  # said when a second signal stops the process at once


class _Policy:
    def __init__(self) -> None:
        self.installed = False
        self.deferrable = False  # whether this verb may defer (train saves a checkpoint first)
        self.cleanups: list[tuple[Callable[[], object], str]] = []
        self.deferral: Deferral | None = None


_policy = _Policy()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def install(deferrable: bool = False) -> None:
    """Make this process stop as described above (call once, first thing, in the main thread)."""
    _policy.installed = True
    _policy.deferrable = deferrable
    for s in SIGNALS:
        signal.signal(s, _on_signal)


def allow_deferral(allowed: bool) -> None:
    """Whether `deferred()` regions of this process may note a signal instead of stopping."""
    _policy.deferrable = allowed


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    deferral = _policy.deferral
    if deferral is not None and deferral.signal is None and _policy.deferrable:
        deferral.signal = name
        return
    again = deferral is not None and deferral.signal is not None
    stop_now(name, deferral.note if again else None)


def stop_now(name: str, note: str | None = None) -> None:
    """Run the clean-ups, say so in one line, and end the process with status 130."""
    notes = [n for _, n in _policy.cleanups if n]
    _stop_children()  # first: a worker must not write into what the clean-ups remove
    for action, _ in reversed(_policy.cleanups):
        try:
            action()
        except BaseException:  # noqa: BLE001 (a clean-up that fails must not keep us running)
            pass
    try:
        sys.stdout.flush()  # translations already printed (may fail if a write was interrupted)
    except BaseException:  # noqa: BLE001
        pass
    said = note or (notes[-1] if notes else "")
    line = f"seqattn: interrupted by {name}{' ' + said if said else ''}\n"
    try:
        os.write(2, line.encode())
    except OSError:
        pass
    os._exit(STATUS)


def _stop_children() -> None:
    """SIGKILL the processes this one started through multiprocessing (a pool's workers, one
    still starting included) and unlink their semaphores, so that nothing outlives the stop
    and multiprocessing's resource tracker has nothing to warn about."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    try:
        children = [c for c in mp.active_children() if c.pid]
        for child in children:
            os.kill(child.pid, signal.SIGKILL)
        for child in children:
            child.join(timeout=2)
        sys.modules["multiprocessing.util"]._run_finalizers(0)  # (what a normal exit runs)
    except BaseException:  # noqa: BLE001
        pass


@contextmanager
def on_stop(action: Callable[[], object], note: str = "") -> Iterator[None]:
    """If the process is stopped by a signal inside this block, run `action` first.

    `note` completes the stop's one line (e.g. "(nothing kept: ...)"). The action runs inside
    a signal handler: it must be quick, idempotent and safe at any instant (remove a path,
    kill a process), not wait for anything."""
    entry = (action, note)
    _policy.cleanups.append(entry)
    try:
        yield
    finally:
        _policy.cleanups.remove(entry)


@contextmanager
def deferred(note: str = "") -> Iterator[Deferral]:
    """A region that stops at its own safe points: the first signal sets `Deferral.signal`.

    Under `install()` a second signal (or any signal, when this verb may not defer) stops the
    process at once, saying `note`. Without `install()` (library use) flag handlers are set
    for the region's duration and the previous ones restored after; a second signal there
    raises KeyboardInterrupt, as Ctrl-C does in Python."""
    deferral = Deferral(note)
    outer = _policy.deferral
    _policy.deferral = deferral
    previous: dict = {}
    if not _policy.installed and _main_thread():
        def note_it(signum: int, _frame: FrameType | None) -> None:
            if deferral.signal is not None:
                raise KeyboardInterrupt
            deferral.signal = signal.Signals(signum).name

        previous = {s: signal.signal(s, note_it) for s in SIGNALS}
    try:
        yield deferral
    finally:
        _policy.deferral = outer
        for s, handler in previous.items():
            signal.signal(s, handler)
