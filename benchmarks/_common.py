"""Shared helpers for the benchmark scripts: data lookup, timing, memory, JSON output."""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "multi30k"


def data_dir(arg: str | None) -> Path:
    """The Multi30k folder: --data, else ../shared/data/multi30k beside the repository."""
    path = Path(arg) if arg else DEFAULT_DATA
    if not (path / "test_2016_flickr.de.gz").is_file():
        sys.exit(f"Multi30k not found in {path} (give --data DIR)")
    return path


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def median_ms(repeats: int, fn, *args, warmup: int = 10) -> float:
    """Median wall time of fn(*args) in ms over `repeats` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn(*args)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - started)
    return median(times) * 1e3


def matmul_gflops(dtype, n: int = 2048, repeats: int = 10) -> float:
    """Median GFLOP/s of an n x n matrix product in `dtype` on the current thread settings."""
    import torch

    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):
        a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / median(times) / 1e9


def write_json(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
