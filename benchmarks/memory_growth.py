"""Does memory grow over a long training run? Resident memory sampled while training.

Trains the reference configuration (configs/multi30k_deen.yaml) for `--steps` steps,
validating every `--val-every`, while a thread samples the process's resident memory
(VmRSS) every `--every` seconds together with the training step. Prints the largest RSS
seen in each stretch of steps and, once the first stretch has warmed up, how much it grew
per 1,000 steps afterwards; writes every sample to JSON.

    python benchmarks/memory_growth.py --data ../shared/data/multi30k --steps 4000 --json mem.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, peak_rss_mb, table, write_json  # noqa: E402


def rss_mb() -> float:
    """Current resident memory of this process, MB (Linux /proc)."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="Multi30k folder (default ../shared/data/multi30k)")
    ap.add_argument("--steps", type=int, default=4000, help="training steps (default 4000)")
    ap.add_argument("--val-every", type=int, default=1000, help="steps between validations")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument("--every", type=float, default=1.0, help="seconds between samples")
    ap.add_argument("--stretch", type=int, default=500, help="steps per row of the table")
    ap.add_argument("--json", help="write the samples and summary here")
    ap.add_argument("overrides", nargs="*", help="extra config overrides (key=value)")
    a = ap.parse_args()
    from seqattn.config import load_config
    from seqattn.train.loop import Trainer

    data = data_dir(a.data)
    cfg = load_config(REPO / "configs" / "multi30k_deen.yaml", [
        f"data.train.src={data / 'train.de.gz'}", f"data.train.tgt={data / 'train.en.gz'}",
        f"data.dev.src={data / 'val.de.gz'}", f"data.dev.tgt={data / 'val.en.gz'}",
        "data.test=null", "train.max_minutes=null", f"train.max_steps={a.steps}",
        f"train.val_every={a.val_every}", "train.early_stopping_patience=null",
        f"train.precision={a.precision}", "train.samples=[]",
        *([f"train.num_threads={a.threads}"] if a.threads else []), *a.overrides])
    samples: list[dict] = []
    done = threading.Event()

    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run")

        def sample() -> None:
            start = time.perf_counter()
            while not done.wait(a.every):
                progress = getattr(trainer, "progress", None)
                samples.append({"t": round(time.perf_counter() - start, 1),
                                "step": progress.step if progress else 0, "rss_mb": round(rss_mb(), 1)})

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        trainer.run()
        done.set()
        thread.join()
        precision = trainer.precision.name

    stretches: dict[int, float] = {}
    for s in samples:
        key = s["step"] // a.stretch * a.stretch
        stretches[key] = max(stretches.get(key, 0.0), s["rss_mb"])
    keys = sorted(stretches)
    print(table([[f"{k}-{k + a.stretch}", f"{stretches[k]:,.0f}"] for k in keys],
                ["steps", "max RSS MB"]))
    # growth after warm-up: from the first full stretch to the last one
    first, last = keys[1] if len(keys) > 2 else keys[0], keys[-1]
    growth = (stretches[last] - stretches[first]) / max(last - first, 1) * 1000
    summary = {"precision": precision, "steps": a.steps, "val_every": a.val_every,
               "max_rss_by_stretch": {str(k): stretches[k] for k in keys},
               "growth_mb_per_1000_steps": round(growth, 1), "peak_rss_mb": round(peak_rss_mb(), 1)}
    print(f"{precision}: peak RSS {summary['peak_rss_mb']:,.0f} MB; growth after the first "
          f"{a.stretch} steps: {growth:+.0f} MB per 1,000 steps")
    write_json(a.json, {**summary, "samples": samples})


if __name__ == "__main__":
    main()
