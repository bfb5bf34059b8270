"""English grapheme-to-phoneme on CMUdict within a CPU budget, beside published figures.

Trains configs/cmudict_g2p.yaml as it is (the bundled CMU Pronouncing Dictionary, a seeded split by
word: 12,000 test words, 3,000 dev words, the rest for training) for `--minutes` of training
time (the loop's own clock; validations and the final test decoding come on top and are
reported as wall time), then reports test WER and PER (beam 5 as training scored the test set,
in its precision; greedy and the last weights decoded in fp32) with a word
counted right when its output equals any of its listed pronunciations. Prints the dev curve
and writes JSON. The run directory must be new or empty (training would resume it).

    python benchmarks/g2p_quality.py --minutes 30 --json g2p.json
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, peak_rss_mb, print_environment, table, write_json  # noqa: E402

# Published CMUdict results (PER %, WER %). Their split is the one of Bisani & Ney (2008),
# about 106,837 training and 12,000 test words; ours is a seeded split of the same size
# kind over a later release of the dictionary, so the comparison is indicative only.
PUBLISHED = [
    ("Encoder-decoder LSTM, no attention (Yao & Zweig 2015)", 7.63, 28.61),
    ("Joint-sequence model (Bisani & Ney 2008; in Yao & Zweig 2015)", 5.88, 24.53),
    ("Bi-directional LSTM with given alignments (Yao & Zweig 2015)", 5.45, 23.55),
    ("DBLSTM-CTC (Rao et al. 2015)", None, 25.8),
    ("DBLSTM-CTC + 5-gram joint model (Rao et al. 2015)", None, 21.3),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="training budget (default 30)")
    ap.add_argument("--config", default=str(REPO / "configs" / "cmudict_g2p.yaml"))
    ap.add_argument("--out", help="run directory to keep (default: runs/g2p-<minutes>m)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. train.batch_size=256")
    a = ap.parse_args()
    from seqattn.config import load_config
    from seqattn.data.pipeline import load_splits
    from seqattn.precision import decide
    from seqattn.scoring import group_references, score_texts
    from seqattn.train import train
    from seqattn.translator import Translator

    env = print_environment()
    run = Path(a.out or REPO / "runs" / f"g2p-{a.minutes:g}m")
    if run.exists() and any(run.iterdir()):
        sys.exit(f"{run} already holds a run; remove it or give --out NEW_DIR")
    cfg = load_config(a.config, [f"train.max_minutes={a.minutes}", *a.overrides])
    decided = decide(cfg.train.precision, "cpu", "train").name
    started = time.perf_counter()
    result = train(cfg, run)
    wall = time.perf_counter() - started
    with open(run / "metrics.csv", encoding="utf-8") as f:
        curve = [{"step": int(r["step"]), "train_minutes": round(float(r["elapsed_s"]) / 60, 2),
                  "dev_wer": round(float(r["wer"]), 2), "dev_per": round(float(r["per"]), 2)}
                 for r in csv.DictReader(f) if r["split"] == "dev" and r.get("wer")]
    translator = Translator.load(run, device="cpu")

    test = load_splits(cfg.data)[2]
    words, refs = group_references(test.src, test.tgt)
    greedy = score_texts([t.text for t in translator.translate(words, beam=1)], refs, ["wer", "per"])
    last_dir = max((run / "checkpoints").glob("step_*"))  # the weights at the end of the budget
    last = Translator.load(run, device="cpu", weights=str(last_dir.relative_to(run) / "model.safetensors"))
    final = score_texts([t.text for t in last.translate(words, beam=5)], refs, ["wer", "per"])
    info = json.loads((run / "results.json").read_text(encoding="utf-8"))
    out = {"minutes": a.minutes, "precision": decided, "run": str(run), "steps": result.progress.step,
           "best_step": result.progress.best_step, "epochs": result.progress.epoch,
           "train_seconds": round(result.progress.elapsed_s, 1), "wall_seconds": round(wall, 1),
           "test_words": len(words), "test_pronunciations": len(test.src),
           "test_wer_beam5": round(result.test.values["wer"], 2),
           "test_per_beam5": round(result.test.values["per"], 2),
           "test_wer_greedy": round(greedy.values["wer"], 2),
           "test_per_greedy": round(greedy.values["per"], 2),
           "last_step": int(last_dir.name.split("_")[1]),
           "test_wer_last_beam5": round(final.values["wer"], 2),
           "test_per_last_beam5": round(final.values["per"], 2),
           "dev_curve": curve, "peak_rss_mb": round(peak_rss_mb(), 1), "stop_reason": info["stop_reason"],
           "overrides": a.overrides,
           "published": [{"system": s, "per": p, "wer": w} for s, p, w in PUBLISHED]}
    print(table([[c["step"], f"{c['train_minutes']:.1f}", f"{c['dev_wer']:.2f}", f"{c['dev_per']:.2f}"]
                 for c in curve], ["step", "train min", "dev WER", "dev PER"]))
    rows = [[s, "" if p is None else f"{p:.2f}", f"{w:.2f}"] for s, p, w in PUBLISHED]
    trained = f"{out['train_seconds'] / 60:.1f} min"
    rows.append([f"seqattn, {trained} here, best dev checkpoint, beam 5 ({decided} decoding, as training "
                 "scored it)", f"{out['test_per_beam5']:.2f}", f"{out['test_wer_beam5']:.2f}"])
    rows.append([f"seqattn, {trained} here, best dev checkpoint, greedy (fp32 decoding)",
                 f"{out['test_per_greedy']:.2f}", f"{out['test_wer_greedy']:.2f}"])
    rows.append([f"seqattn, {trained} here, last weights, beam 5 (fp32 decoding)",
                 f"{out['test_per_last_beam5']:.2f}", f"{out['test_wer_last_beam5']:.2f}"])
    print(table(rows, ["system (CMUdict test)", "PER %", "WER %"]))
    print(f"{out['steps']} steps ({decided}), {len(words):,} test words; wall {wall / 60:.1f} min; "
          f"peak RSS {out['peak_rss_mb']:.0f} MB")
    write_json(a.json, {**out, "environment": env})


if __name__ == "__main__":
    main()
