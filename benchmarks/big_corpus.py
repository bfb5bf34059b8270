"""Corpora larger than memory: prepare speed and training memory at 0.5M, 2M and 5M pairs.

    python benchmarks/big_corpus.py [--sizes 500000,2000000,5000000] [--steps 200]
                                    [--precisions auto,fp32] [--workers N] [--data DIR] [--json PATH]

For each size the script writes a synthetic parallel corpus into a temporary folder (Multi30k
training pairs cut at the middle word and recombined: the first half of one pair joined to
the second half of another, on both sides), then runs two phases, each in its own process:
  prepare  `seqattn prepare` (SentencePiece on the config's bounded sample, parallel encoding)
  data     the training process's data path alone: open the shards, plan an epoch, read
           10 x `--steps` batches (what streaming holds in memory, without the model)
  train    `--steps` steps of the reference model (configs/multi30k_deen.yaml) streaming
           from the prepared shards, dev = Multi30k val (first 100 sentences), once per
           `train.precision` in `--precisions` (memory depends on it)
and reports prepare pairs/s and each phase's peak resident memory (getrusage maxrss of the
phase's process; for prepare also the largest VmHWM of its encoding workers, polled from
/proc). The folder is deleted after each size. Needs about 1.5 GB of disk at 5M pairs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_json  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "multi30k_deen.yaml"


def _halves(text: str) -> tuple[str, str]:
    words = text.split()
    cut = len(words) // 2
    return " ".join(words[:cut]), " ".join(words[cut:])


def make_corpus(data: Path, pairs: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write `pairs` recombined Multi30k pairs to folder/train.de and folder/train.en."""
    import gzip

    de = gzip.open(data / "train.de.gz", "rt", encoding="utf-8").read().splitlines()
    en = gzip.open(data / "train.en.gz", "rt", encoding="utf-8").read().splitlines()
    de_halves, en_halves = [_halves(s) for s in de], [_halves(s) for s in en]
    rng = random.Random(seed)
    n = len(de)
    paths = folder / "train.de", folder / "train.en"
    with paths[0].open("w", encoding="utf-8") as f_de, paths[1].open("w", encoding="utf-8") as f_en:
        for start in range(0, pairs, 100_000):
            count = min(100_000, pairs - start)
            a = [rng.randrange(n) for _ in range(count)]
            b = [rng.randrange(n) for _ in range(count)]
            f_de.write("".join(f"{de_halves[i][0]} {de_halves[j][1]}\n" for i, j in zip(a, b)))
            f_en.write("".join(f"{en_halves[i][0]} {en_halves[j][1]}\n" for i, j in zip(a, b)))
    return paths


def _children_peak_mb(stop: threading.Event, peak: list[float]) -> None:
    """Poll the peak resident size (VmHWM) of this process's children until `stop`."""
    me = str(os.getpid())
    while not stop.wait(0.2):
        for entry in Path("/proc").iterdir():
            try:
                status = (entry / "status").read_text() if entry.name.isdigit() else ""
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if fields.get("PPid", "").strip() != me or "VmHWM" not in fields:
                continue
            try:  # (a spawned worker before its exec still has the parent's pages)
                started = b"--multiprocessing-fork" in (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if started:
                peak[0] = max(peak[0], int(fields["VmHWM"].split()[0]) / 1024)


def _phase(args: argparse.Namespace) -> None:
    """Run one phase in this process and print its measurements as JSON (last line)."""
    from seqattn.config import load_config

    cfg = load_config(args.config, args.overrides)
    started, stop, workers_peak = time.perf_counter(), threading.Event(), [0.0]
    if args.phase == "prepare":
        from seqattn.data.prepare import prepare_corpus

        watcher = threading.Thread(target=_children_peak_mb, args=(stop, workers_peak), daemon=True)
        watcher.start()
        result = prepare_corpus(cfg, cfg.data.prepared, args.workers)
        stop.set()
        watcher.join()
        extra = {"lines": result.manifest["lines"], "pairs": result.manifest["pairs"],
                 "skipped": result.manifest["skipped"], "reused": result.reused,
                 "workers_peak_rss_mb": workers_peak[0]}
    elif args.phase == "data":
        from seqattn.data.batching import BucketBatcher, make_batch
        from seqattn.data.shards import ShardedSplit

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        split = ShardedSplit(cfg.data.prepared)
        batches = BucketBatcher(*split.lengths(), cfg.train.batch_size, cfg.train.batch_tokens,
                                cfg.train.seed).epoch(0)
        for k in range(min(len(batches), 10 * cfg.train.max_steps)):
            make_batch(*split.pairs(batches[k]), batches[k])
        extra = {"before_mb": before, "batches": min(len(batches), 10 * cfg.train.max_steps)}
    else:
        from seqattn.train import train

        result = train(cfg, args.run)
        with (Path(args.run) / "metrics.csv").open(newline="") as fh:
            rates = sorted(float(r["tokens_per_s"]) for r in csv.DictReader(fh) if r["split"] == "train")
        extra = {"steps": result.progress.step, "tokens_per_s": rates[len(rates) // 2] if rates else 0.0}
    seconds = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": own, **extra}))


def _run_phase(phase: str, config: Path, workers: int | None, run: Path | None = None,
               overrides: list[str] = ()) -> dict:
    cmd = [sys.executable, __file__, "--phase", phase, "--config", str(config), *overrides]
    cmd += ["--workers", str(workers)] if workers else []
    cmd += ["--run", str(run)] if run else []
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{phase} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: int, data: Path, steps: int, workers: int | None, root: Path,
            precisions: list[str]) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"big{size}-", dir=root))
    try:
        started = time.perf_counter()
        de, en = make_corpus(data, size, folder)
        generated = time.perf_counter() - started
        tree = yaml.safe_load(CONFIG.read_text())
        tree["data"].update(train={"src": str(de), "tgt": str(en)}, test=None,
                            dev={"src": str(data / "val.de.gz"), "tgt": str(data / "val.en.gz")},
                            prepared=str(folder / "prepared"))
        tree["train"].update(max_steps=steps, max_minutes=None, val_every=10**9, val_max_sentences=100,
                             heatmaps=0, samples=[], log_every=20, early_stopping_patience=None)
        config = folder / "config.yaml"
        config.write_text(yaml.safe_dump(tree))
        prep = _run_phase("prepare", config, workers)
        data_path = _run_phase("data", config, workers)
        trained = {p: _run_phase("train", config, workers, folder / f"run-{p}", [f"train.precision={p}"])
                   for p in precisions}
        return {"pairs": size, "corpus_mb": (de.stat().st_size + en.stat().st_size) / 1e6,
                "generate_s": generated, "prepare": prep, "data": data_path, "train": trained,
                "prepare_pairs_per_s": size / prep["seconds"]}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="500000,2000000,5000000", help="corpus sizes in pairs")
    ap.add_argument("--steps", type=int, default=200, help="training steps per size")
    ap.add_argument("--precisions", default="auto,fp32", help="train.precision values to train with")
    ap.add_argument("--workers", type=int, help="prepare's encoding processes (default: CPU cores)")
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "multi30k"))
    ap.add_argument("--tmp", help="where to put the temporary corpora (default: the system's)")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--phase", choices=["prepare", "data", "train"], help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--run", help=argparse.SUPPRESS)
    ap.add_argument("overrides", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        return _phase(args)
    data = Path(args.data)
    if not (data / "train.de.gz").is_file():
        sys.exit(f"Multi30k not found in {data} (give --data DIR)")
    results, precisions = [], args.precisions.split(",")
    for size in [int(s) for s in args.sizes.split(",")]:
        print(f"{size:,} pairs ...", file=sys.stderr, flush=True)
        root = Path(args.tmp or tempfile.gettempdir())
        results.append(measure(size, data, args.steps, args.workers, root, precisions))
    header = ["pairs", "corpus MB", "prepare s", "pairs/s", "prepare RSS MB", "worker RSS MB",
              "data RSS MB"]
    header += [f"{name} ({p})" for p in precisions for name in ("train s", "tok/s", "train RSS MB")]
    rows = [[f"{r['pairs']:,}", f"{r['corpus_mb']:.0f}", f"{r['prepare']['seconds']:.1f}",
             f"{r['prepare_pairs_per_s']:,.0f}", f"{r['prepare']['peak_rss_mb']:.0f}",
             f"{r['prepare']['workers_peak_rss_mb']:.0f}",
             f"{r['data']['peak_rss_mb'] - r['data']['before_mb']:+.0f}"]
            + [x for p in precisions for x in (f"{r['train'][p]['seconds']:.1f}",
                                                f"{r['train'][p]['tokens_per_s']:,.0f}",
                                                f"{r['train'][p]['peak_rss_mb']:.0f}")] for r in results]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
    if args.json:
        meta = {"cpus": os.cpu_count(), "python": platform.python_version(), "steps": args.steps,
                "date": time.strftime("%Y-%m-%d")}
        write_json(args.json, {"meta": meta, "results": results})


if __name__ == "__main__":
    main()
