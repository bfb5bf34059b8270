"""A training session's life cycle in its run directory: create it, log into it, catch
signals; and when the setup of a new run fails, leave nothing behind."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path
from types import FrameType

from seqattn.atomic import check_writable, remove_stale_temps
from seqattn.errors import SeqattnError
from seqattn.rundir import RunDir
from seqattn.train.logs import start_logging, stop_logging

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal arrived while the run was being set up (data, subwords, model)."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def _topmost_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (None when `path` exists)."""
    missing = None
    while not path.exists() and path != path.parent:
        missing, path = path, path.parent
    return missing


class Session:
    """`with Session(run, main) as session:` around a training session.

    On entry (rank 0 only writes): the run directory exists and is writable, temporary files
    left by a killed process are gone, the log goes to `train.log` and the terminal. SIGINT
    and SIGTERM during setup raise `Interrupted` at once (in Python code; a running
    SentencePiece training finishes first); once set up they only set `session.signal`, and
    the loop stops at the next step and saves a checkpoint. On exit the handlers and logging
    are restored; a new run whose setup never finished (`set_up()` not called) is removed
    again, folders it created included.
    """

    def __init__(self, run: RunDir, main: bool):
        self.run, self.main = run, main
        self.signal: str | None = None
        path = run.path
        # a new run (no folder, or an empty one) whose setup fails leaves nothing behind
        self._fresh = main and (not path.exists() or (path.is_dir() and not any(path.iterdir())))
        self._created = _topmost_missing(path)  # the folder this session creates, parents included
        self._set_up = False
        self._handlers: list = []
        self._previous: dict = {}

    def __enter__(self) -> Session:
        try:
            self.run.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SeqattnError(f"{self.run.path}: cannot create run directory ({exc.strerror})") from None
        if self.main:
            check_writable(self.run.path)
            for folder in (self.run.path, self.run.checkpoints):
                remove_stale_temps(folder)  # left by a killed process
        self._handlers = start_logging(self.run.log) if self.main else []
        self._previous = {s: signal.signal(s, self._on_signal) for s in SIGNALS}
        return self

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signal = signal.Signals(signum).name
        if not self._set_up:  # during setup there is nothing to save: stop at once
            raise Interrupted(self.signal)

    def set_up(self) -> None:
        """The run is set up: from now on the directory stays, whatever happens."""
        self._set_up = True

    def __exit__(self, *exc) -> None:
        for s, h in self._previous.items():
            signal.signal(s, h)
        stop_logging(self._handlers)
        if self._fresh and not self._set_up:
            if self._created is not None:
                shutil.rmtree(self._created, ignore_errors=True)
            else:  # the folder was there, empty: empty it again
                for child in self.run.path.iterdir():
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
