"""How close two importance maps are: Kendall's tau-b per output token, and alignment error.

Importance is ranked by magnitude: attention and saliency are never negative, while input x
gradient, integrated gradients and occlusion are signed, and a source token that pushes hard
against an output token matters as much to it as one that pushes for it. Both measures read
|score|.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def kendall_tau_b(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b of two equally long score vectors: (concordant - discordant pairs) /
    sqrt((pairs - pairs tied in x) (pairs - pairs tied in y)); NaN when either is constant or
    shorter than 2. Exact, O(n^2) pairs (a sentence's source is short)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"kendall_tau_b: two vectors of one length, not {a.shape} and {b.shape}")
    if a.size < 2:
        return math.nan
    i, j = np.triu_indices(a.size, 1)
    sx, sy = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    pairs = float(i.size)
    denominator = math.sqrt((pairs - np.count_nonzero(sx == 0)) * (pairs - np.count_nonzero(sy == 0)))
    return float(np.sum(sx * sy) / denominator) if denominator > 0 else math.nan


def row_agreement(reference: np.ndarray, scores: np.ndarray) -> list[float]:
    """Kendall tau-b of |reference| and |scores| for each output row (rows, src_cols) -> one
    value per row (NaN where a row is constant)."""
    if reference.shape != scores.shape:
        raise ValueError(f"row_agreement: maps of one shape, not {reference.shape} and {scores.shape}")
    return [kendall_tau_b(np.abs(r), np.abs(s)) for r, s in zip(reference, scores)]


def alignment_errors(scores: np.ndarray, truth: Sequence[int]) -> tuple[int, int]:
    """(wrong, counted): row t is wrong when the source column of largest |score| is not
    truth[t]. Only the first len(truth) rows count (the final </s> row has no true source)."""
    if len(truth) > scores.shape[0]:
        raise ValueError(f"alignment_errors: {len(truth)} aligned rows but the map has {scores.shape[0]}")
    if not truth:
        return 0, 0
    picked = np.abs(scores[: len(truth)]).argmax(axis=1)
    return int(np.count_nonzero(picked != np.asarray(truth))), len(truth)
