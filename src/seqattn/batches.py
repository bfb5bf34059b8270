"""The one batch loop: sort inputs by length, cut them into batches, run each, and put the
results back in input order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

R = TypeVar("R")


def in_batches(lengths: Sequence[int], batch_size: int, work: Callable[[list[int]], list[R]],
               side_by_side: bool = False) -> list[R]:
    """`work(indices)` -> one result per index, for length-sorted batches of at most
    `batch_size` inputs; returns the results in input order.

    With `side_by_side` and several threads, batches run at once, one per thread (each
    single-threaded): a decoding step is many small operations that a second thread barely
    speeds up, while two independent batches use two cores.
    """
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    threads = torch.get_num_threads()
    workers = min(threads, len(batches)) if side_by_side else 1
    if workers > 1:
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(workers) as pool:
                done = list(pool.map(work, batches))
        finally:
            torch.set_num_threads(threads)
    else:
        done = [work(idx) for idx in batches]
    results: list[R] = [None] * len(lengths)  # type: ignore[list-item]
    for idx, out in zip(batches, done):
        for i, r in zip(idx, out):
            results[i] = r
    return results
