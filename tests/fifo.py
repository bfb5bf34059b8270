"""A named pipe (FIFO) with a writer thread, for tests of input that is not a regular file."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def fifo_with_writer(path: Path, data: bytes) -> Iterator[Path]:
    """Make a FIFO at `path` whose writer thread sends `data` once a reader opens it.

    On leaving, a writer still waiting for a reader (the code under test never opened the
    FIFO) is let go by opening the FIFO here, so the thread always ends.
    """
    os.mkfifo(path)

    def write() -> None:
        try:
            with open(path, "wb") as fh:  # blocks until a reader opens the FIFO
                fh.write(data)
        except BrokenPipeError:  # the reader stopped early
            pass

    writer = threading.Thread(target=write, name="fifo-writer", daemon=True)
    writer.start()
    try:
        yield path
    finally:
        if writer.is_alive():
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets a writer waiting to open go on
            try:
                writer.join(10)
            finally:
                os.close(fd)
        writer.join(10)
        assert not writer.is_alive()


@contextmanager
def fifo_without_writer(path: Path, after_s: float = 5.0) -> Iterator[Path]:
    """Make a FIFO at `path` that nothing writes to. Code that should refuse it without opening
    it returns at once; code that opens it for reading would block, so after `after_s` seconds
    a helper thread opens it for writing and closes it (the reader then sees an empty file and
    the test fails instead of hanging)."""
    os.mkfifo(path)
    done = threading.Event()

    def release() -> None:
        if done.wait(after_s):
            return
        while not done.wait(0.1):
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # succeeds only while a reader waits
            except OSError:
                continue
            os.close(fd)

    helper = threading.Thread(target=release, name="fifo-release", daemon=True)
    helper.start()
    try:
        yield path
    finally:
        done.set()
        helper.join(10)
        assert not helper.is_alive()
