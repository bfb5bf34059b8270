"""What every study shares: synthetic tasks, training an arm, scoring by length, reports."""

from __future__ import annotations

import csv
import io
import logging
import multiprocessing
import os
import random
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqattn import stopping
from seqattn.atomic import atomic_write_bytes, atomic_write_text
from seqattn.config import Config, build_config
from seqattn.model.seq2seq import Seq2Seq
from seqattn.rundir import RunDir
from seqattn.train import train
from seqattn.translator import Translator

log = logging.getLogger("seqattn")
ALPHABET = list("abcdefghijklmnopqrst")  # 20 symbols
LENGTH_BUCKETS = [(5, 14), (15, 24), (25, 34), (35, 44), (45, 60)]
# A bidirectional encoder already reads the source backwards (reversing its input only swaps its
# two directions) and puts both ends of the source next to the context vector, so the reversal
# and gradient studies use a one-way encoder, as Sutskever et al. did.
ONE_WAY = ["model.encoder.bidirectional=false"]


# ----------------------------------------------------------------------------- synthetic data


def synthetic_pairs(task: str, n: int, seed: int, min_len: int = 5, max_len: int = 60
                    ) -> list[tuple[str, str]]:
    """Random symbol sequences; the target is the same sequence ('copy') or reversed ('reverse')."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        seq = [rng.choice(ALPHABET) for _ in range(rng.randint(min_len, max_len))]
        out = seq if task == "copy" else seq[::-1]
        pairs.append((" ".join(seq), " ".join(out)))
    return pairs


def write_pairs(folder: Path, name: str, pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    src, tgt = folder / f"{name}.src", folder / f"{name}.tgt"
    atomic_write_text(src, "".join(s + "\n" for s, _ in pairs))
    atomic_write_text(tgt, "".join(t + "\n" for _, t in pairs))
    return {"src": str(src), "tgt": str(tgt)}


def synthetic_tree(folder: Path, task: str, quick: bool) -> dict:
    """Config mapping for a small model on a synthetic task stored under `folder`."""
    n_train = 4000 if quick else 20000
    return {
        "name": f"{task}-synthetic",
        "data": {
            "train": write_pairs(folder, "train", synthetic_pairs(task, n_train, seed=1)),
            "dev": write_pairs(folder, "dev", synthetic_pairs(task, 200, seed=2)),
            "test": write_pairs(folder, "test", synthetic_pairs(task, 200 if quick else 1000, seed=3)),
            "subword": {"type": "bpe", "vocab_size": 48, "joint": True},
            "max_len": 80,
        },
        "model": {
            "encoder": {"emb_size": 64, "hidden_size": 128, "dropout": 0.1},
            "decoder": {"emb_size": 64, "hidden_size": 256, "dropout": 0.1},
            "attention": {"type": "general"},
        },
        "train": {"batch_size": 64, "lr": 0.002, "max_steps": 100 if quick else 600,
                  "val_every": 100 if quick else 300, "early_stopping_patience": None,
                  "heatmaps": 0, "log_every": 50, "val_max_sentences": 200,
                  "schedule": {"type": "constant"},
                  "precision": "fp32"},  # small models: bf16 only adds kernel compiles
        "decode": {"beam": 1, "max_len_a": 1.2, "max_len_b": 5},
    }


def count_parameters(cfg: Config, vocab: int = 48) -> int:
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        return Seq2Seq(cfg.model, vocab, vocab).num_parameters()


def match_parameters(tree: dict, overrides: list[str], target: int, vocab: int = 48) -> list[str]:
    """Grow or shrink the decoder hidden size of an arm until its parameter count is closest
    to `target` (so arms with and without attention compare at equal size)."""
    best, best_gap = overrides, None
    for hidden in range(64, 1025, 8):
        trial = [*overrides, f"model.decoder.hidden_size={hidden}"]
        gap = abs(count_parameters(build_config(tree, trial), vocab) - target)
        if best_gap is None or gap < best_gap:
            best, best_gap = trial, gap
    return best


# ----------------------------------------------------------------------------- arms


@dataclass
class Arm:
    """One configuration in a comparison."""

    name: str
    overrides: list[str] = field(default_factory=list)


def _run_dir(out: Path, arm: Arm, seed: int) -> Path:
    return out / "runs" / f"{re.sub(r'[^A-Za-z0-9]+', '_', arm.name).strip('_')}-seed{seed}"


def _train_one(tree: dict, arm: Arm, seed: int, out: Path) -> float:
    """Train one arm with one seed; return its median training tokens/s."""
    cfg = build_config(tree, [*arm.overrides, f"train.seed={seed}"])
    run_dir = _run_dir(out, arm, seed)
    train(cfg, run_dir)
    rows = list(csv.DictReader(io.StringIO(RunDir(run_dir).metrics.read_text())))
    speeds = [float(r["tokens_per_s"]) for r in rows if r.get("tokens_per_s")]
    return statistics.median(speeds) if speeds else 0.0


def _worker_start() -> None:
    torch.set_num_threads(1)
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (the parent reports; train.log keeps all)


def train_arms(tree: dict, jobs: Sequence[tuple[Arm, int]], out: Path,
               workers: int | None = None) -> list[tuple[Translator, float, int]]:
    """Train each (arm, seed) job; return (translator, training tokens/s, parameters) per job.

    Small synthetic models use two cores poorly, so with `workers` > 1 (default: the torch
    thread count) the jobs run side by side in spawned processes with one thread each."""
    return train_tasks([(tree, arm, seed) for arm, seed in jobs], out, workers)


def train_tasks(jobs: Sequence[tuple[dict, Arm, int]], out: Path, workers: int | None = None
                ) -> list[tuple[Translator, float, int]]:
    """`train_arms` for jobs that each bring their own config mapping (arms of several tasks
    trained side by side); arm names must differ across tasks."""
    for _, arm, seed in jobs:
        log.info("study: training %s (seed %d)", arm.name, seed)
    speeds = side_by_side(_train_one, [(tree, arm, seed, out) for tree, arm, seed in jobs], workers)
    results = []
    for (_, arm, seed), speed in zip(jobs, speeds):
        translator = Translator.load(_run_dir(out, arm, seed))
        results.append((translator, speed, translator.model.num_parameters()))
    return results


def side_by_side(fn: Callable, jobs: Sequence[tuple], workers: int | None = None) -> list:
    """[fn(*job) for job in jobs]; with `workers` > 1 (default: the torch thread count) in that
    many spawned processes with one thread each (`fn` and the results travel between processes,
    so `fn` is a module-level function)."""
    workers = min(len(jobs), workers or torch.get_num_threads())
    if workers <= 1:
        return [fn(*job) for job in jobs]
    log.info("study: %d jobs, %d side by side (one thread each)", len(jobs), workers)
    results = []
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start) as pool:
        with stopping.interrupts_blocked():  # workers never see Ctrl-C: this process stops them
            futures = [pool.submit(fn, *job) for job in jobs]
        try:
            for future in futures:
                results.append(future.result())
        except BaseException:  # Ctrl-C or a failed job: start nothing more
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def train_arm(tree: dict, arm: Arm, seed: int, out: Path) -> tuple[Translator, float, int]:
    """Train one arm with one seed in this process (all threads)."""
    return train_arms(tree, [(arm, seed)], out, workers=1)[0]


def bucket_of(length: int, buckets: Sequence[tuple[int, int]]) -> int | None:
    return next((i for i, (lo, hi) in enumerate(buckets) if lo <= length <= hi), None)


def accuracy_by_length(outputs: Sequence[str], pairs: Sequence[tuple[str, str]],
                       buckets: Sequence[tuple[int, int]] = LENGTH_BUCKETS) -> list[float]:
    """Symbol accuracy (%) per source-length bucket: output symbols equal to the reference
    at the same position, over the longer of the two sequences (so length errors count)."""
    hits, totals = [0] * len(buckets), [0] * len(buckets)
    for (src, ref), out in zip(pairs, outputs):
        b = bucket_of(len(src.split()), buckets)
        if b is not None:
            o, r = out.split(), ref.split()
            hits[b] += sum(x == y for x, y in zip(o, r))
            totals[b] += max(len(o), len(r))
    return [100.0 * h / t if t else float("nan") for h, t in zip(hits, totals)]


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


# ----------------------------------------------------------------------------- reports


def plot_lines(path: Path, x_labels: Sequence[str], series: dict[str, list[tuple[float, float]]],
               xlabel: str, ylabel: str, title: str, log_y: bool = False) -> None:
    """Line plot with error bars (mean, std per point) for each named series; writes a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from seqattn.viz import figure_bytes

    fig = Figure(figsize=(7, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    xs = list(range(len(x_labels)))
    for name, points in series.items():
        ax.errorbar(xs, [m for m, _ in points], yerr=[s for _, s in points], marker="o",
                    capsize=3, label=name)
    if log_y:
        ax.set_yscale("log")
    ax.set_xticks(xs, list(x_labels))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    atomic_write_bytes(path, figure_bytes(fig))


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_summary(out: Path, title: str, sections: Sequence[str], settings: dict) -> None:
    body = [f"# {title}", "", *sections, "", "## Settings", "", "```yaml"]
    body += [f"{k}: {v}" for k, v in settings.items()]
    body += ["```", ""]
    atomic_write_text(out / "summary.md", "\n".join(body))


StudyFn = Callable[..., dict]
