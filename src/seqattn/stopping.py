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


def _child_pids() -> set[int]:
    """This process's children, as Linux lists them (one still being spawned included)."""
    me, found = os.getpid(), set()
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    with open(f"/proc/{entry.name}/stat", "rb") as fh:
                        if int(fh.read().rsplit(b")", 1)[1].split()[1]) == me:
                            found.add(int(entry.name))
                except (OSError, ValueError, IndexError):
                    continue
    except OSError:
        pass
    return found


def _kill_and_reap(pids: set[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)  # (SIGKILL cannot be ignored: this returns at once)
        except OSError:
            pass


def _stop_children() -> None:
    """SIGKILL and reap the processes this one started (a pool's workers, one still being
    spawned included), unlink their semaphores, then stop multiprocessing's resource tracker,
    which has nothing left to clean: nothing outlives the stop, and nothing prints."""
    mp = sys.modules.get("multiprocessing")
    tracker = getattr(sys.modules.get("multiprocessing.resource_tracker"), "_resource_tracker", None)
    tracker_pid = getattr(tracker, "_pid", None)
    try:
        pids = _child_pids() | {c.pid for c in (mp.active_children() if mp else []) if c.pid}
        _kill_and_reap(pids - {tracker_pid})
        if mp is not None:
            sys.modules["multiprocessing.util"]._run_finalizers(0)  # (what a normal exit runs)
        if tracker_pid:
            _kill_and_reap({tracker_pid})
    except BaseException:  # noqa: BLE001
        pass


@contextmanager
def interrupts_blocked() -> Iterator[None]:
    """Block SIGINT in this thread for the block: processes started inside inherit it blocked,
    so a Ctrl-C to the terminal's process group never interrupts a worker (even one still
    importing); the parent stops them. A SIGINT that arrives meanwhile is delivered after."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
