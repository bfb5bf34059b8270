"""Training metrics: a CSV in the run directory (rewritten atomically) and TensorBoard.

TensorBoard is a convenience copy: when its event file cannot be written (a full disk) it
is switched off with one warning and training goes on; the CSV stays the record.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import threading
from pathlib import Path
from typing import Any

from seqattn.atomic import atomic_write_text

log = logging.getLogger("seqattn")

FIELDS = ["step", "split", "loss", "ppl", "bleu", "chrf", "wer", "per", "cer", "lr", "tokens_per_s",
          "elapsed_s"]


class MetricsLog:
    def __init__(self, path: Path, tensorboard_dir: Path | None, resume_step: int | None = None):
        """Rows go to the CSV file `path`, scalars and images also to TensorBoard in
        `tensorboard_dir` (None: no TensorBoard)."""
        self.path = path
        self.rows: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as fh:
                # a resumed run writes its own test scores at its end
                self.rows = [r for r in csv.DictReader(fh)
                             if int(r["step"]) <= resume_step and r["split"] != "test"]
        self.tb = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step is not None else None
            self.tb = SummaryWriter(str(tensorboard_dir), purge_step=purge)
            _quiet_writer_thread_errors()

    def add(self, step: int, split: str, **values: float | None) -> None:
        row = {"step": str(step), "split": split}
        for key, value in values.items():
            if key not in FIELDS:
                raise KeyError(key)
            if value is not None:
                row[key] = f"{value:.6g}"
                self._tensorboard("add_scalar", f"{split}/{key}", value, step)
        self.rows.append(row)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buffer.getvalue())

    def add_image(self, tag: str, pixels, step: int) -> None:
        """An RGB image (height, width, 3) for TensorBoard."""
        self._tensorboard("add_image", tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        self._tensorboard("close")

    def _tensorboard(self, method: str, *args, **kwargs) -> None:
        """Call a SummaryWriter method; a failed write turns TensorBoard off, with one warning."""
        if self.tb is None:
            return
        try:
            getattr(self.tb, method)(*args, **kwargs)
        except OSError as err:
            writer, self.tb = self.tb, None
            log.warning("warning: TensorBoard logging stopped: cannot write %s (%s); metrics.csv "
                        "goes on", writer.log_dir, err.strerror or err)
            with contextlib.suppress(Exception):
                writer.close()


def _quiet_writer_thread_errors() -> None:
    """TensorBoard writes from a thread that re-raises a failed write, which Python prints as
    a traceback; the main thread meets the same error on its next call and reports it once
    (`MetricsLog._tensorboard`), so drop that print. Other threads' errors are untouched."""
    try:  # a private class: without it, leave the hook alone (the warning still comes once)
        from tensorboard.summary.writer.event_file_writer import _AsyncWriterThread
    except ImportError:
        return
    previous = threading.excepthook
    if getattr(previous, "seqattn_quiet", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if isinstance(args.thread, _AsyncWriterThread) and issubclass(args.exc_type, OSError):
            return
        previous(args)

    hook.seqattn_quiet = True  # type: ignore[attr-defined]
    threading.excepthook = hook


class NullMetrics:
    """Stands in for `MetricsLog` on ranks other than 0, which write nothing."""

    def add(self, *args: Any, **kwargs: Any) -> None:
        pass

    def add_image(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass
