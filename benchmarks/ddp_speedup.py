"""Data-parallel speed-up: 2 processes x 1 thread against 1 process x 1 thread, same batches.

    python benchmarks/ddp_speedup.py [--steps 300] [--config configs/multi30k_deen.yaml] [--json PATH]
                                     [key=value ...]   (config overrides for both runs)

Runs `seqattn train` on the reference configuration twice from the repository root: one
process with one thread for `--steps` steps, then `--nproc 2` (gloo, one thread each) for half
as many steps, which trains on the same batches (each step takes one batch per process).
Validation, heatmaps and test decoding are switched off. Reports the median target tokens/s
over the logged windows (the first, warm-up window left out) and the training time (the sum
of step times that the run itself records), and their ratios.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
COMMON = ["data.test=null", "train.val_every=1000000000", "train.val_max_sentences=50", "train.heatmaps=0",
          "train.samples=[]", "train.log_every=20", "train.max_minutes=null",
          "train.early_stopping_patience=null", "train.num_threads=1"]


def train(config: str, run: Path, steps: int, nproc: int, overrides: list[str]) -> dict:
    cmd = [sys.executable, "-m", "seqattn", "train", config, "--out", str(run), *COMMON, *overrides,
           f"train.max_steps={steps}", *(["--nproc", str(nproc)] if nproc > 1 else [])]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, env=env)
    if done.returncode != 0:
        sys.exit(f"training failed:\n{done.stderr[-3000:]}")
    with (run / "metrics.csv").open(newline="") as fh:
        rates = [float(r["tokens_per_s"]) for r in csv.DictReader(fh) if r["split"] == "train"][1:]
    elapsed = json.loads((run / "results.json").read_text())["progress"]["elapsed_s"]
    return {"processes": nproc, "steps": steps, "tokens_per_s": sorted(rates)[len(rates) // 2],
            "windows": len(rates), "train_s": elapsed, "wall_s": time.perf_counter() - started}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300, help="steps of the single process (even)")
    ap.add_argument("--config", default="configs/multi30k_deen.yaml")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("overrides", nargs="*", help="config overrides, e.g. train.batch_size=128")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = train(args.config, Path(tmp) / "one", args.steps, 1, args.overrides)
        two = train(args.config, Path(tmp) / "two", args.steps // 2, 2, args.overrides)
    speedup = {"tokens_per_s": two["tokens_per_s"] / one["tokens_per_s"],
               "train_time": one["train_s"] / two["train_s"]}
    for r in (one, two):
        print(f"{r['processes']} x 1 thread: {r['steps']} steps, {r['tokens_per_s']:,.0f} target tokens/s "
              f"(median of {r['windows']} windows), training {r['train_s']:.1f} s, wall {r['wall_s']:.1f} s")
    print(f"speed-up: {speedup['tokens_per_s']:.2f}x tokens/s, {speedup['train_time']:.2f}x training time")
    if args.json:
        meta = {"cpus": os.cpu_count(), "python": platform.python_version(),
                "date": time.strftime("%Y-%m-%d")}
        payload = {"meta": meta, "overrides": args.overrides, "one": one, "two": two, "speedup": speedup}
        write_json(args.json, payload)


if __name__ == "__main__":
    main()
