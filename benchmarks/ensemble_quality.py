"""What an ensemble buys, and what it costs: its members alone against the ensemble, per rule.

Translates the first run's test split (or `--src`/`--ref`) with each run alone and with all
of them as one ensemble under each combination rule (`mean_logprob`, `mean_prob`), at one
beam size, and prints each one's scores (the first run's `eval.metrics`, references grouped
by source when `--group-references`) and decoding time (one timed pass, batched).

    python benchmarks/ensemble_quality.py --runs runs/koen runs/koen-additive --beam 5 \\
        --json benchmarks/results/CPU/ensemble_quality.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_environment, table, write_json  # noqa: E402

RULES = ("mean_logprob", "mean_prob")


def test_split(run: str, src: str | None, ref: str | None, grouped: bool):
    """(sources, references, metrics) of `--src/--ref` or of the run's own test split."""
    import seqattn
    from seqattn.data.corpus import read_lines
    from seqattn.data.pipeline import load_splits
    from seqattn.scoring import group_references

    cfg = seqattn.load(run, device="cpu").cfg
    if src and ref:
        sources, targets = read_lines(src), read_lines(ref)
    else:
        test = load_splits(cfg.data)[2]
        sources, targets = list(test.src), list(test.tgt)
    if grouped:
        return (*group_references(sources, targets), list(cfg.eval.metrics))
    return sources, [[t] for t in targets], list(cfg.eval.metrics)


def measure(translator, sources: list[str], refs: list[list[str]], metrics: list[str], beam: int) -> dict:
    from seqattn.scoring import score_texts

    translator.translate(sources[:16], beam=beam)  # (warm-up)
    started = time.perf_counter()
    found = translator.translate(sources, beam=beam)
    seconds = time.perf_counter() - started
    scores = score_texts([t.text for t in found], refs, metrics)
    return {"scores": {m: round(v, 2) for m, v in scores.values.items()}, "seconds": round(seconds, 2),
            "per_second": round(len(sources) / seconds, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, help="two or more run directories")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--src", help="sources (default: the first run's test split)")
    ap.add_argument("--ref", help="references, one per source line")
    ap.add_argument("--group-references", action="store_true",
                    help="repeated sources are one input with several references (G2P)")
    ap.add_argument("--precision", default="fp32", help="decoding precision of every model (default fp32)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    if len(a.runs) < 2:
        ap.error("an ensemble needs two or more --runs")
    import seqattn

    env = print_environment()
    sources, refs, metrics = test_split(a.runs[0], a.src, a.ref, a.group_references)
    print(f"{len(sources):,} test inputs, beam {a.beam}, metrics {', '.join(metrics)}", flush=True)
    rows: dict[str, dict] = {}
    for run in a.runs:
        member = seqattn.load(run, device="cpu", precision=a.precision)
        rows[run] = measure(member, sources, refs, metrics, a.beam)
        print(f"{run}: {rows[run]}", flush=True)
    for rule in RULES:
        name = f"ensemble ({rule})"
        ensemble = seqattn.load(a.runs, device="cpu", precision=a.precision, ensemble_rule=rule)
        rows[name] = measure(ensemble, sources, refs, metrics, a.beam)
        print(f"{name}: {rows[name]}", flush=True)
    single = sum(rows[r]["seconds"] for r in a.runs) / len(a.runs)
    print()
    print(table([[name, *(f"{r['scores'][m]:.2f}" for m in metrics), f"{r['seconds']:.1f}",
                  f"{r['seconds'] / single:.2f}"] for name, r in rows.items()],
                ["model", *metrics, "decode s", "x a member's time"]))
    write_json(a.json, {"runs": a.runs, "beam": a.beam, "precision": a.precision, "inputs": len(sources),
                        "metrics": metrics, "results": rows, "date": time.strftime("%Y-%m-%d"),
                        "environment": env})
    return 0


if __name__ == "__main__":
    sys.exit(main())
