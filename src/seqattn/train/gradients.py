"""The global gradient norm used for clipping, computed with every CPU thread.

PyTorch reduces a whole tensor to one number on a single thread on the CPU: for the
reference model's 12.5M gradients `torch.nn.utils.get_total_norm` takes 4.4 ms of a
~100 ms bf16 step here, with 1 thread as with 2. Viewing each gradient as rows of
`ROW` elements makes it a reduction over rows, which PyTorch spreads over the threads
(2.3 ms). Same quantity; the additions happen in another order.
"""

from __future__ import annotations

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
