"""The quality M minutes of CPU buy: train the reference configuration for a time budget.

Trains Multi30k de->en with configs/multi30k_deen.yaml for `--minutes` of training time
(the loop's own clock: training steps only; validations and the final test decoding come
on top and are reported as wall time), validating on the full dev set every `--val-every`
steps, then scores test_2016_flickr with beam 5 and greedy (sacreBLEU). Prints the dev
BLEU curve over training time and writes JSON. The run directory must be new or empty:
training resumes whatever run it finds there, which would not be a fresh budget.

    python benchmarks/budget_quality.py --data ../shared/data/multi30k --minutes 20 --json budget.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, peak_rss_mb, print_environment, table, write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="Multi30k folder (default ../shared/data/multi30k)")
    ap.add_argument("--minutes", type=float, default=20.0, help="training budget (default 20)")
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--val-every", type=int, default=1000, help="steps between dev scores")
    ap.add_argument("--out", help="run directory to keep (default: runs/budget-<minutes>m-<precision>)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    from seqattn.config import load_config
    from seqattn.data.corpus import read_lines
    from seqattn.precision import decide
    from seqattn.scoring import score_texts as text_scores
    from seqattn.train import train
    from seqattn.translator import Translator

    data = data_dir(a.data)
    env = print_environment()
    decided = decide(a.precision, "cpu", "train").name
    run = Path(a.out or REPO / "runs" / f"budget-{a.minutes:g}m-{a.precision}")
    if run.exists() and any(run.iterdir()):  # training would resume it: not a fresh budget
        sys.exit(f"{run} already holds a run; remove it or give --out NEW_DIR")
    cfg = load_config(REPO / "configs" / "multi30k_deen.yaml", [
        f"data.train.src={data / 'train.de.gz'}", f"data.train.tgt={data / 'train.en.gz'}",
        f"data.dev.src={data / 'val.de.gz'}", f"data.dev.tgt={data / 'val.en.gz'}",
        f"data.test.src={data / 'test_2016_flickr.de.gz'}",
        f"data.test.tgt={data / 'test_2016_flickr.en.gz'}",
        f"train.max_minutes={a.minutes}", f"train.val_every={a.val_every}",
        "train.early_stopping_patience=null", f"train.precision={a.precision}"])
    started = time.perf_counter()
    result = train(cfg, run)
    wall = time.perf_counter() - started
    with open(run / "metrics.csv", encoding="utf-8") as f:
        curve = [{"step": int(r["step"]), "train_minutes": round(float(r["elapsed_s"]) / 60, 2),
                  "dev_bleu": round(float(r["bleu"]), 2)}
                 for r in csv.DictReader(f) if r["split"] == "dev" and r.get("bleu")]
    src = read_lines(str(data / "test_2016_flickr.de.gz"))
    ref = read_lines(str(data / "test_2016_flickr.en.gz"))
    greedy = text_scores([t.text for t in Translator.load(run, device="cpu", precision=a.precision).translate(
        src, beam=1, batch_size=64)], ref)
    info = json.loads((run / "results.json").read_text(encoding="utf-8"))
    out = {"minutes": a.minutes, "precision": a.precision, "decided_precision": decided, "run": str(run),
           "steps": result.progress.step, "best_step": result.progress.best_step,
           "train_seconds": round(result.progress.elapsed_s, 1), "wall_seconds": round(wall, 1),
           "test_bleu_beam5": round(result.test.bleu, 2), "test_chrf_beam5": round(result.test.chrf, 2),
           "test_bleu_greedy": round(greedy.bleu, 2), "dev_curve": curve,
           "peak_rss_mb": round(peak_rss_mb(), 1), "stop_reason": info["stop_reason"]}
    print(table([[c["step"], f"{c['train_minutes']:.1f}", f"{c['dev_bleu']:.2f}"] for c in curve],
                ["step", "train min", "dev BLEU (greedy)"]))
    print(f"test_2016_flickr after {a.minutes:g} min ({out['steps']} steps, {decided}): "
          f"BLEU beam 5 {out['test_bleu_beam5']:.2f}, greedy {out['test_bleu_greedy']:.2f}; "
          f"wall {wall / 60:.1f} min; peak RSS {out['peak_rss_mb']:.0f} MB")
    write_json(a.json, {**out, "environment": env})


if __name__ == "__main__":
    main()
