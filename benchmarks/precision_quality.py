"""Does bf16 cost quality? fp32 and bf16 trained for the same number of steps, several seeds.

Trains the reference configuration (configs/multi30k_deen.yaml) for `--steps` steps in fp32
and in bf16 for each seed. A seed fixes the initial weights, the batch order and the dropout
masks, so the fp32 and bf16 runs of a seed differ only in arithmetic. Runs go `--parallel`
at a time (default 2), one thread each, as separate processes; every run scores the full dev
set greedily every `--val-every` steps and test_2016_flickr (greedy) at its end. Prints
dev BLEU per seed and step, the bf16 - fp32 differences with their mean and standard
deviation, and writes JSON.

    python benchmarks/precision_quality.py --steps 2000 --seeds 1,2,3 --json pq.json
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, table, write_json  # noqa: E402

PRECISIONS = ("fp32", "bf16")


def command(data: Path, out: Path, precision: str, seed: int, a: argparse.Namespace) -> list[str]:
    return [sys.executable, "-m", "seqattn", "train", str(REPO / "configs" / "multi30k_deen.yaml"),
            "--out", str(out), f"data.train.src={data / 'train.de.gz'}",
            f"data.train.tgt={data / 'train.en.gz'}", f"data.dev.src={data / 'val.de.gz'}",
            f"data.dev.tgt={data / 'val.en.gz'}", f"data.test.src={data / 'test_2016_flickr.de.gz'}",
            f"data.test.tgt={data / 'test_2016_flickr.en.gz'}", "train.max_minutes=null",
            f"train.max_steps={a.steps}", f"train.val_every={a.val_every}",
            "train.early_stopping_patience=null", f"train.precision={precision}",
            f"train.seed={seed}", "train.num_threads=1", "train.samples=[]", "train.heatmaps=0",
            "decode.beam=1"]


def dev_curve(run: Path) -> dict[int, float]:
    with open(run / "metrics.csv", encoding="utf-8") as f:
        return {int(r["step"]): float(r["bleu"]) for r in csv.DictReader(f)
                if r["split"] == "dev" and r.get("bleu")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="Multi30k folder (default ../shared/data/multi30k)")
    ap.add_argument("--steps", type=int, default=2000, help="training steps per run (default 2000)")
    ap.add_argument("--val-every", type=int, default=500, help="steps between dev scores (default 500)")
    ap.add_argument("--seeds", default="1,2,3", help="comma-separated seeds (default 1,2,3)")
    ap.add_argument("--parallel", type=int, default=2, help="runs at a time, one thread each")
    ap.add_argument("--keep", help="keep the run directories here (default: a temporary folder)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    data = data_dir(a.data)
    seeds = [int(s) for s in a.seeds.split(",")]
    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="precision-quality-"))
    root.mkdir(parents=True, exist_ok=True)
    jobs = [(seed, p) for seed in seeds for p in PRECISIONS]
    started, running, results = time.perf_counter(), [], {}
    while jobs or running:
        while jobs and len(running) < a.parallel:
            seed, p = jobs.pop(0)
            out = root / f"seed{seed}-{p}"
            log = open(root / f"seed{seed}-{p}.log", "w", encoding="utf-8")  # noqa: SIM115
            running.append((seed, p, out, log, subprocess.Popen(command(data, out, p, seed, a),
                                                                stdout=log, stderr=subprocess.STDOUT)))
            print(f"started seed {seed} {p}", flush=True)
        time.sleep(2)
        for job in [j for j in running if j[4].poll() is not None]:
            seed, p, out, log, proc = job
            running.remove(job)
            log.close()
            if proc.returncode:
                sys.exit(f"seed {seed} {p} failed (exit {proc.returncode}); see {log.name}")
            info = json.loads((out / "results.json").read_text(encoding="utf-8"))
            results[(seed, p)] = {"dev_bleu": dev_curve(out), "test_bleu_greedy": info["test"]["bleu"]}
            print(f"finished seed {seed} {p}: test BLEU {info['test']['bleu']:.2f}", flush=True)
    steps = sorted(results[(seeds[0], "fp32")]["dev_bleu"])
    rows, diffs = [], {s: [] for s in steps}
    for seed in seeds:
        f, b = results[(seed, "fp32")]["dev_bleu"], results[(seed, "bf16")]["dev_bleu"]
        for s in steps:
            diffs[s].append(b[s] - f[s])
            rows.append([seed, s, f"{f[s]:.2f}", f"{b[s]:.2f}", f"{b[s] - f[s]:+.2f}"])
    print(table(rows, ["seed", "step", "fp32 dev BLEU", "bf16 dev BLEU", "bf16 - fp32"]))
    summary = {}
    for s in steps:
        d = diffs[s]
        summary[s] = {"mean": round(statistics.mean(d), 3),
                      "std": round(statistics.stdev(d), 3) if len(d) > 1 else None}
        print(f"step {s}: bf16 - fp32 = {summary[s]['mean']:+.2f}"
              + (f" +- {summary[s]['std']:.2f} (std over {len(d)} seeds)" if len(d) > 1 else ""))
    test = [results[(seed, "bf16")]["test_bleu_greedy"] - results[(seed, "fp32")]["test_bleu_greedy"]
            for seed in seeds]
    print(f"test_2016 greedy, bf16 - fp32 at step {a.steps}: mean {statistics.mean(test):+.2f} "
          f"({', '.join(f'{t:+.2f}' for t in test)})")
    wall = round(time.perf_counter() - started)
    write_json(a.json, {"steps": a.steps, "seeds": seeds, "wall_seconds": wall,
                        "runs": {f"seed{s}-{p}": r for (s, p), r in results.items()},
                        "dev_difference_by_step": summary, "test_difference_greedy": test})


if __name__ == "__main__":
    main()
