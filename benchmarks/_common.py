"""Shared helpers for the benchmark scripts: data lookup, timing, memory, JSON output."""

from __future__ import annotations

import json
import os
import platform
import re
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


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> list[str]:
    """The instruction-set flags that decide the fast paths (Linux only; [] elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []
    keep = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile", "fma")
    return [f for f in keep if f in flags]


def environment() -> dict:
    """What a result was measured on: CPU, ISA, threads, torch and oneDNN versions, bf16."""
    import torch

    from seqattn.precision import probe_bf16

    onednn = re.search(r"MKL-DNN v([\d.]+)", torch.__config__.show())
    bf16 = probe_bf16(torch.device("cpu"))
    env = {"cpu": cpu_model(), "cpu_flags": cpu_flags(), "cores": os.cpu_count(),
           "isa": torch.backends.cpu.get_cpu_capability(),
           "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
           "threads": torch.get_num_threads(), "torch": torch.__version__,
           "onednn": onednn.group(1) if onednn else None, "python": platform.python_version(),
           "bf16": {"trains": bf16.trains, "decodes": bf16.decodes, "native": bf16.native,
                    "detail": bf16.detail}}
    if torch.cuda.is_available():
        env["cuda"] = {"gpu": torch.cuda.get_device_name(), "cuda": torch.version.cuda,
                       "cudnn": torch.backends.cudnn.version()}
    return env


def print_environment() -> dict:
    """Print and return `environment()`, so every run's output says where it ran."""
    env = environment()
    print(f"CPU: {env['cpu']} ({env['cores']} cores, {env['threads']} threads, ISA {env['isa']}"
          f"{', ONEDNN_MAX_CPU_ISA=' + env['onednn_max_cpu_isa'] if env['onednn_max_cpu_isa'] else ''}); "
          f"torch {env['torch']}, oneDNN {env['onednn']}; bf16: {env['bf16']['detail']}", flush=True)
    return env


def write_json(path: str | None, payload: dict) -> None:
    """Write `payload` as JSON, with the machine it was measured on under 'environment'."""
    if path:
        payload = {**payload, "environment": payload.get("environment") or environment()}
        Path(path).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path}")


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])
