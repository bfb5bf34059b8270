"""Learning-rate schedules: constant, reduce-on-plateau, warm-up then inverse-sqrt or cosine.

Each schedule is a pure function of the step plus a small JSON-able state (plateau scale),
so resuming restores it exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from seqattn.config import ScheduleConfig


class Schedule:
    """The learning rate of each step. `end`: the step a cosine decay reaches `min_lr` (the
    config makes sure 'warmup_cosine' has one: `TrainConfig.schedule_end`)."""

    def __init__(self, cfg: ScheduleConfig, base_lr: float, end: int | None):
        self.cfg, self.base_lr, self.total = cfg, base_lr, end
        self.scale = 1.0  # plateau multiplier
        self.bad = 0  # validations without improvement (plateau)

    def lr(self, step: int) -> float:
        """Learning rate for optimizer step number `step` (1-based)."""
        c, warm = self.cfg, self.cfg.warmup_steps
        warmup = min(1.0, step / warm) if warm > 0 else 1.0
        if c.type == "warmup_inverse_sqrt":
            return self.base_lr * (warmup if step < warm else math.sqrt(max(warm, 1) / step))
        if c.type == "warmup_cosine":
            if step < warm:
                return self.base_lr * warmup
            progress = min(1.0, (step - warm) / max(1, self.total - warm))
            return c.min_lr + (self.base_lr - c.min_lr) * 0.5 * (1 + math.cos(math.pi * progress))
        return max(c.min_lr, self.base_lr * self.scale) * warmup

    def apply(self, optimizer: torch.optim.Optimizer, step: int) -> float:
        lr = self.lr(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr

    def on_validation(self, improved: bool) -> None:
        """Plateau: after `patience` validations without gain, multiply the rate by `factor`."""
        if self.cfg.type != "plateau":
            return
        self.bad = 0 if improved else self.bad + 1
        if self.bad > self.cfg.patience:
            self.scale *= self.cfg.factor
            self.bad = 0

    def state_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "bad": self.bad}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale, self.bad = float(state["scale"]), int(state["bad"])
