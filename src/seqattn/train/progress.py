"""Where training stands, when it stops, and how it reports: the progress record saved in
every checkpoint, the stop rules, and the progress bar with its log lines."""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass

from tqdm import tqdm

from seqattn.config import TrainConfig

log = logging.getLogger("seqattn")


@dataclass
class Progress:
    """Where training stands; saved in every checkpoint."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of `epoch` already trained on (by all processes together)
    elapsed_s: float = 0.0  # training time over all sessions of this run
    best_score: float | None = None
    best_step: int | None = None
    bad_validations: int = 0
    last_validation: int = -1
    nonfinite: int = 0  # consecutive non-finite losses up to `step`
    loss_avg: float | None = None  # running training loss (for the log)


def stop_reason(t: TrainConfig, p: Progress, signal: str | None) -> str | None:
    """Why training should stop before the next step, or None to go on."""
    if signal:
        return f"interrupted by {signal}"
    if t.max_steps is not None and p.step >= t.max_steps:
        return f"reached train.max_steps={t.max_steps}"
    if t.max_minutes is not None and p.elapsed_s >= t.max_minutes * 60:
        return f"reached train.max_minutes={t.max_minutes}"
    if t.max_epochs is not None and p.epoch >= t.max_epochs:
        return f"reached train.max_epochs={t.max_epochs}"
    return None


def time_left(t: TrainConfig, p: Progress) -> str:
    """Training time left under the nearer of max_minutes and max_steps (estimated), m:ss."""
    left = []
    if t.max_minutes is not None:
        left.append(t.max_minutes * 60 - p.elapsed_s)
    if t.max_steps is not None and p.step:
        left.append(p.elapsed_s / p.step * (t.max_steps - p.step))
    if not left:
        return "?"
    seconds = max(0, int(min(left)))
    return f"{seconds // 60}:{seconds % 60:02d}"


class Report:
    """The progress bar, and every `log_every` steps a log line and a metrics row with the
    running loss, learning rate, target tokens per second and time left."""

    def __init__(self, t: TrainConfig, p: Progress, metrics, main: bool):
        self.t, self.p, self.metrics = t, p, metrics
        self.bar = tqdm(total=t.max_steps, initial=p.step, unit="step", dynamic_ncols=True,
                        disable=None if main else True, file=sys.stderr)
        self.tokens, self.started = 0, time.perf_counter()

    def restart_window(self) -> None:
        """Start a new tokens/s window (after a validation, which is not training time)."""
        self.started = time.perf_counter()

    def step_done(self, tokens: int, lr: float) -> None:
        p = self.p
        self.tokens += tokens
        self.bar.update(1)
        if p.step % self.t.log_every or p.loss_avg is None:
            return
        now = time.perf_counter()
        tps = self.tokens / max(now - self.started, 1e-9)
        left = time_left(self.t, p)
        self.bar.set_postfix(loss=f"{p.loss_avg:.3f}", tok_s=f"{tps:,.0f}", left=left, refresh=False)
        if self.bar.disable:
            log.info("step %d epoch %d loss %.3f lr %.2g %.0f tok/s, %s left", p.step, p.epoch,
                     p.loss_avg, lr, tps, left)
        self.metrics.add(p.step, "train", loss=p.loss_avg, ppl=math.exp(min(p.loss_avg, 50)), lr=lr,
                         tokens_per_s=tps, elapsed_s=p.elapsed_s)
        self.tokens, self.started = 0, time.perf_counter()

    def close(self) -> None:
        self.bar.close()
