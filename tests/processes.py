"""Processes that tests start: each in its own process group, stopped by PID whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


def stop_group(proc: subprocess.Popen) -> None:
    """SIGKILL whatever is left of `proc`'s process group (its children included) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.communicate(timeout=30)
    except (ValueError, OSError, subprocess.TimeoutExpired):  # (streams already read and closed)
        proc.wait(timeout=30)


@contextmanager
def started(cmd: list[str], **kwargs) -> Iterator[subprocess.Popen]:
    """`subprocess.Popen(cmd, **kwargs)` in a new process group; on leaving the block, by
    success, failure or timeout, nothing of it is left running."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    try:
        yield proc
    finally:
        stop_group(proc)
