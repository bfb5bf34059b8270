"""One writer per folder: an advisory lock that names its holder.

Training (new or resumed) and `prepare` take it before they write; readers (translate,
evaluate, serve) never do, and are never blocked: every file a writer replaces is replaced
atomically (`seqattn.atomic`), so a reader sees the old file or the whole new one.

The lock is `flock` on a small file holding the holder's pid, host and start time. The
kernel releases it when the process ends, however it ends. A clean release (a signal
included) removes the file; so a file that still names a holder while nobody holds the lock
was left by a process that died (killed, or its machine lost power), and the next writer
takes it over and says so.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path

from seqattn import stopping
from seqattn.errors import SeqattnError

_UNREADABLE = "a process that left no readable record"


def _describe(record: bytes) -> str:
    try:
        r = json.loads(record.decode("utf-8"))
        return f"pid {int(r['pid'])} on host {r['host']}, since {r['since']}"
    except (ValueError, KeyError, TypeError, AttributeError):
        return _UNREADABLE


def _read(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 4096)


def _holder_record(fd: int, wait_s: float = 2.0) -> bytes:
    """The holder's record, waiting briefly for it: a holder writes it just after it locks."""
    deadline = time.monotonic() + wait_s
    while True:
        record = _read(fd)
        if _describe(record) != _UNREADABLE or time.monotonic() >= deadline:
            return record
        time.sleep(0.02)


class WriterLock:
    """`with WriterLock(path, folder, what) as lock:` holds the lock file `path` for `folder`.

    Raises a SeqattnError naming the holder when another process holds it. After entry,
    `taken_over` describes the dead holder whose lock was taken over (None if there was none).
    """

    def __init__(self, path: str | Path, folder: str | Path, what: str):
        self.path, self.folder, self.what = Path(path), Path(folder), what
        self.taken_over: str | None = None
        self._fd: int | None = None
        self._on_stop = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        for _ in range(20):  # (the file may be replaced between open and lock: then try again)
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                raise SeqattnError(f"{self.folder}: cannot create its lock file {self.path.name} "
                                   f"({exc.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                busy = exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
                holder = _describe(_holder_record(fd) if busy else b"")
                os.close(fd)
                if busy:
                    raise self.refusal(holder) from None
                raise SeqattnError(f"{self.folder}: cannot lock {self.path.name} ({exc.strerror})") from None
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            left = _read(fd).strip()
            self.taken_over = f"{_describe(left)}, which is no longer running" if left else None
            record = {"pid": os.getpid(), "host": socket.gethostname(),
                      "since": time.strftime("%Y-%m-%d %H:%M:%S")}
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(record).encode() + b"\n", 0)
            self._fd = fd
            self._on_stop = stopping.on_stop(self.release)  # (a stopped command ends cleanly too)
            self._on_stop.__enter__()
            return
        raise SeqattnError(f"{self.folder}: its lock file {self.path.name} keeps being replaced")

    def holder(self) -> str | None:
        """Who holds the lock now (pid, host, since), or None when nobody does."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return None
        except OSError:
            return _describe(_holder_record(fd))
        finally:
            os.close(fd)  # (a shared lock we got goes with it)

    def refusal(self, holder: str) -> SeqattnError:
        return SeqattnError(f"{self.folder}: another process is writing this {self.what} "
                            f"({holder}); wait for it to end, or stop it")

    def release(self) -> None:
        """Remove the lock file (a clean end) and let go; the kernel would let go at exit anyway.

        Safe against a process waiting on the same file: `acquire` checks, once it holds the
        lock, that the file it locked is still the one at the path."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        self._on_stop.__exit__(None, None, None)
        try:
            if os.stat(self.path).st_ino == os.fstat(fd).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        os.close(fd)  # (closing releases the flock)
