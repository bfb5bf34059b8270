"""What an ensemble buys, and what it costs: its members alone against the ensemble, per rule.

Translates the first run's test split (or `--src`/`--ref`) with each run alone and with all
of them as one ensemble under each combination rule (`mean_logprob`, `mean_prob`), at one
beam size, and prints each one's scores (the first run's `eval.metrics`, references grouped
by source when `--group-references`, scored by `seqattn.evaluate.score_split` as `seqattn
evaluate` scores) and the time of that one batched pass (decoding and scoring).

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


def test_split(run: str, src: str | None, ref: str | None) -> tuple[list[str], list[str], list[str]]:
    """(sources, references line by line, metrics) of `--src/--ref` or of the run's test split."""
    import seqattn
    from seqattn.data.corpus import read_lines
    from seqattn.data.pipeline import load_splits

    cfg = seqattn.load(run, device="cpu").cfg
    if src and ref:
        return read_lines(src), read_lines(ref), list(cfg.eval.metrics)
    test = load_splits(cfg.data)[2]
    return list(test.src), list(test.tgt), list(cfg.eval.metrics)


def measure(translator, split: tuple, beam: int, group: bool) -> dict:
    """Scores of one decode of the split (as `seqattn evaluate` makes them), and its time."""
    from seqattn.evaluate import score_split

    sources, references, metrics = split
    translator.translate(sources[:16], beam=beam)  # (warm-up)
    started = time.perf_counter()
    scores, decoded = score_split(translator, sources, references, metrics, beam=beam, group=group)
    seconds = time.perf_counter() - started
    return {"scores": {m: round(v, 2) for m, v in scores.values.items()}, "seconds": round(seconds, 2),
            "inputs": len(decoded.sources), "per_second": round(len(decoded.sources) / seconds, 1)}


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
    split = test_split(a.runs[0], a.src, a.ref)
    metrics = split[2]
    print(f"{len(split[0]):,} test lines, beam {a.beam}, metrics {', '.join(metrics)}", flush=True)
    rows: dict[str, dict] = {}
    for run in a.runs:
        member = seqattn.load(run, device="cpu", precision=a.precision)
        rows[run] = measure(member, split, a.beam, a.group_references)
        print(f"{run}: {rows[run]}", flush=True)
    for rule in RULES:
        name = f"ensemble ({rule})"
        ensemble = seqattn.load(a.runs, device="cpu", precision=a.precision, ensemble_rule=rule)
        rows[name] = measure(ensemble, split, a.beam, a.group_references)
        print(f"{name}: {rows[name]}", flush=True)
    single = sum(rows[r]["seconds"] for r in a.runs) / len(a.runs)
    print()
    print(table([[name, *(f"{r['scores'][m]:.2f}" for m in metrics), f"{r['seconds']:.1f}",
                  f"{r['seconds'] / single:.2f}"] for name, r in rows.items()],
                ["model", *metrics, "decode + score s", "x a member's time"]))
    write_json(a.json, {"runs": a.runs, "beam": a.beam, "precision": a.precision,
                        "inputs": rows[a.runs[0]]["inputs"],
                        "metrics": metrics, "results": rows, "date": time.strftime("%Y-%m-%d"),
                        "environment": env})
    return 0


if __name__ == "__main__":
    sys.exit(main())
