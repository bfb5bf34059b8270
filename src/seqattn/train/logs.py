"""The training log: lines to `train.log` in the run directory and to the terminal.

Terminal lines go through tqdm so they do not break the progress bar. A log file that can
no longer be written (a full disk, a removed directory) costs one warning on the terminal,
not a traceback per line, and training goes on: checkpoints report their own failures.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from tqdm import tqdm

log = logging.getLogger("seqattn")


class _TqdmHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


class _RunLogFile(logging.FileHandler):
    """A FileHandler that gives up quietly, once, when the file cannot be written."""

    def __init__(self, path: Path):
        super().__init__(path, encoding="utf-8")
        self.failed = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        error = sys.exc_info()[1]
        self.failed = True
        tqdm.write(f"warning: cannot write {self.baseFilename} ({error}); "
                   "the rest of this run is logged to the terminal only", file=sys.stderr)


def start_logging(log_file: Path) -> list[logging.Handler]:
    """Send the `seqattn` logger's INFO lines to `log_file` (the run's train.log) and the terminal."""
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    handlers: list[logging.Handler] = [_RunLogFile(log_file), _TqdmHandler()]
    for h in handlers:
        h.setFormatter(fmt)
        log.addHandler(h)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handlers


def stop_logging(handlers: list[logging.Handler]) -> None:
    """Detach what `start_logging` attached and hand the logger back as it was."""
    for h in handlers:
        log.removeHandler(h)
        try:
            h.close()
        except OSError:  # flushing a file on a full disk
            pass
    log.propagate = True
