"""A training session's life cycle in its run directory: lock it, create it, log into it,
stop on signals at safe points; and when the setup of a new run fails, leave nothing behind."""

from __future__ import annotations

import logging
import shutil
from contextlib import ExitStack
from pathlib import Path

from seqattn import stopping
from seqattn.atomic import check_writable, remove_stale_temps
from seqattn.errors import SeqattnError
from seqattn.rundir import RunDir
from seqattn.train.logs import start_logging, stop_logging

log = logging.getLogger("seqattn")
SETUP_NOTE = "during setup (a new run is removed, a resumed one left as it was)"


def _topmost_missing(path: Path) -> Path | None:
    """The outermost folder of `path` that does not exist yet (None when `path` exists)."""
    missing = None
    while not path.exists() and path != path.parent:
        missing, path = path, path.parent
    return missing


class Session:
    """`with Session(run, main) as session:` around a training session.

    On entry (rank 0 only writes): the run directory exists, this process holds its writer
    lock (another writer is refused, naming it), the directory is writable, temporary files
    left by a killed process are gone, the log goes to `train.log` and the terminal.

    Signals (`seqattn.stopping`): during setup a signal stops the command at once and a new
    run is removed again; from `set_up()` until `saved()` the first signal only sets
    `session.signal`, and the loop stops at its next step and saves a checkpoint (a second
    signal stops at once: the last complete checkpoint stays); after `saved()` a signal
    stops at once. On exit the lock and logging are released; a new run whose setup never
    finished is removed again, folders it created included.
    """

    def __init__(self, run: RunDir, main: bool):
        self.run, self.main = run, main
        path = run.path
        # a new run (no folder, or an empty one) whose setup fails leaves nothing behind
        self._fresh = main and (not path.exists() or (path.is_dir() and not any(path.iterdir())))
        self._created = _topmost_missing(path)  # the folder this session creates, parents included
        self._set_up = False
        self._handlers: list = []
        self._stack = ExitStack()
        self._phase = ExitStack()  # the signal policy of the current phase
        self._deferral: stopping.Deferral | None = None
        self._signal: str | None = None

    @property
    def signal(self) -> str | None:
        """The signal that asked the loop to stop (its name), or None."""
        return self._deferral.signal if self._deferral else self._signal

    @signal.setter
    def signal(self, value: str | None) -> None:
        if self._deferral:
            self._deferral.signal = value
        else:
            self._signal = value

    def __enter__(self) -> Session:
        path = self.run.path
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SeqattnError(f"{path}: cannot create run directory ({exc.strerror})") from None
        if not self.main:
            return self
        # refused: leave everything alone (the other writer may have made the folder)
        lock = self._stack.enter_context(self.run.writer_lock())
        try:
            if self._fresh and any(p.name != lock.path.name for p in path.iterdir()):
                self._fresh = False  # another writer got here first, and has finished
                self.run.check_new()
            self._phase.enter_context(stopping.on_stop(self._remove_unfinished, SETUP_NOTE))
            check_writable(path)
            for folder in (path, self.run.checkpoints):
                remove_stale_temps(folder)  # left by a killed process
            self._handlers = start_logging(self.run.log)
        except BaseException:
            self.__exit__()
            raise
        if lock.taken_over:
            log.warning("warning: took over the lock of %s from %s", path, lock.taken_over)
        return self

    def set_up(self) -> None:
        """The run is set up: from now on the directory stays, whatever happens, and a signal
        is answered at the loop's next step."""
        self._set_up = True
        self._phase.close()
        resume = f"seqattn train --resume {self.run.path}"
        note = f"again: stopped at once (the last complete checkpoint is kept; continue with: {resume})"
        self._deferral = self._phase.enter_context(stopping.deferred(note))

    def saved(self) -> None:
        """The final checkpoint is written: from now on a signal stops at once."""
        self._signal = self.signal
        self._phase.close()
        self._deferral = None
        self._phase.enter_context(stopping.on_stop(lambda: None, "(the run is saved; its test scores "
                                                   "and samples were not computed)"))

    def _remove_unfinished(self) -> None:
        """Remove a new run whose setup did not finish (its folders included)."""
        if not self._fresh or self._set_up:
            return
        if self._created is not None:
            shutil.rmtree(self._created, ignore_errors=True)
        else:  # the folder was there, empty: empty it again
            for child in self.run.path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)

    def __exit__(self, *exc) -> None:
        self._phase.close()
        stop_logging(self._handlers)
        if self.main:
            self._remove_unfinished()
        self._stack.close()
