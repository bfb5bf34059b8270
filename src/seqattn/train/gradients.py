"""From a loss to an update: backward, loss scaling (fp16), the overflow check, clipping.

The global gradient norm is computed with every CPU thread. PyTorch reduces a whole
tensor to one number on a single thread on the CPU, so `torch.nn.utils.get_total_norm`
over the reference model's 12.5M gradients takes as long with 1 thread as with 2. Viewing
each gradient as rows of `ROW` elements makes it a reduction over rows, which PyTorch
spreads over the threads. Same quantity; the additions happen in another order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

ROW = 8192  # elements per row: long enough to vectorise, short enough to give every thread rows


def _row_norms(grad: torch.Tensor) -> torch.Tensor:
    """The 2-norms of `grad`'s elements taken in rows of ROW (and the remainder): (rows,)."""
    flat = grad.reshape(-1)
    body = flat.numel() - flat.numel() % ROW
    parts = []
    if body:
        parts.append(torch.linalg.vector_norm(flat[:body].view(-1, ROW), dim=1))
    if body < flat.numel():
        parts.append(torch.linalg.vector_norm(flat[body:]).reshape(1))
    return torch.cat(parts)


def total_norm(grads: list[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of all `grads` together, as one vector: a 0-dim tensor (fp32 for fp32 grads)."""
    if not grads:
        return torch.tensor(0.0)
    if any(g.device.type != "cpu" for g in grads):  # fused multi-tensor kernels there
        return torch.nn.utils.get_total_norm(grads, foreach=True)
    return torch.linalg.vector_norm(torch.cat([_row_norms(g) for g in grads]))


class Updater:
    """One optimizer update from a loss: backward, the gradient norm, a skipped update when
    the gradients overflowed, clipping to `clip_norm`, the step.

    With `loss_scaling` (fp16 training) the loss is multiplied by a dynamic scale before
    backward so that small fp16 gradients do not flush to zero, the gradients are divided
    by it again before the norm is taken, and the scale halves after an overflow and
    doubles after 2,000 clean steps (`torch.amp.GradScaler`).
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], optimizer: torch.optim.Optimizer,
                 clip_norm: float, loss_scaling: bool = False, device_type: str = "cpu"):
        self.params, self.optimizer, self.clip_norm = list(params), optimizer, clip_norm
        self.scaler = torch.amp.GradScaler(device_type) if loss_scaling else None
        self.lowered_scale: float | None = None  # after an update skipped for the scale

    def step(self, loss: torch.Tensor) -> float:
        """Backward from `loss` (0-dim) and update. Returns the gradient norm before
        clipping; when it is not finite no update is made. Then `lowered_scale` is the new,
        halved, loss scale if the overflow can be put down to a scale above 1, else None."""
        self.lowered_scale = None
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()
        else:
            scale = self.scaler.get_scale()
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = float(total_norm(grads))
        if not math.isfinite(norm):  # overflow in the backward pass (on any rank): no update
            self.optimizer.zero_grad(set_to_none=True)
            if self.scaler is not None:
                self.scaler.update()  # (halves the scale: unscale_ saw the overflow)
                if scale > 1.0:
                    self.lowered_scale = self.scaler.get_scale()
            return norm
        if norm > self.clip_norm:  # (scaling 12M gradients by 1 every step costs time for nothing)
            torch.nn.utils.clip_grads_with_norm_(grads, self.clip_norm, torch.tensor(norm),
                                                 foreach=True)
        if self.scaler is None:
            self.optimizer.step()
        else:
            self.scaler.step(self.optimizer)  # (gradients already unscaled: a plain step)
            self.scaler.update()
        return norm

    def state_dict(self) -> dict[str, Any]:
        """The loss scaler's state (JSON-ready); empty without loss scaling."""
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
