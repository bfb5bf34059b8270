"""Training metrics: a CSV in the run directory (rewritten atomically) and TensorBoard."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from seqattn.atomic import atomic_write_text

FIELDS = ["step", "split", "loss", "ppl", "bleu", "chrf", "lr", "tokens_per_s", "elapsed_s"]


class MetricsLog:
    def __init__(self, run_dir: Path, resume_step: int | None = None, tensorboard: bool = True):
        self.path = run_dir / "metrics.csv"
        self.rows: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="", encoding="utf-8") as fh:
                # a resumed run writes its own test scores at its end
                self.rows = [r for r in csv.DictReader(fh)
                             if int(r["step"]) <= resume_step and r["split"] != "test"]
        self.tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = resume_step + 1 if resume_step is not None else None
            self.tb = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)

    def add(self, step: int, split: str, **values: float | None) -> None:
        row = {"step": str(step), "split": split}
        for key, value in values.items():
            if key not in FIELDS:
                raise KeyError(key)
            if value is not None:
                row[key] = f"{value:.6g}"
                if self.tb is not None:
                    self.tb.add_scalar(f"{split}/{key}", value, step)
        self.rows.append(row)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buffer.getvalue())

    def add_image(self, tag: str, pixels, step: int) -> None:
        """An RGB image (height, width, 3) for TensorBoard."""
        if self.tb is not None:
            self.tb.add_image(tag, pixels, step, dataformats="HWC")

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
