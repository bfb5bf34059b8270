"""What an ensemble and a forced prefix cost at decoding time, per sentence.

For the first `--sentences` lines of the first run's test split (or `--src`), decodes with one
model and with ensembles of the first k runs (k = 2 .. len(--runs)), greedy and beam `--beam`,
one sentence at a time (the interactive case: median milliseconds per sentence) and in one batched
call (sentences per second). Then, for the first run alone, the same with a forced prefix:

  * `own`   the first half of the model's own greedy output (search re-walks its own start);
  * `other` the first half of the reference (the start a user would type; not the model's choice).

Every measurement is taken in the same process, one after another, so the ratios are side by side.

    python benchmarks/decoding_cost.py --runs RUN1 RUN2 RUN3 --json benchmarks/results/CPU/decoding_cost.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median, print_environment, table, write_json  # noqa: E402


def split_of(run: str, src: str | None, ref: str | None, n: int) -> tuple[list[str], list[str]]:
    """The first `n` (source, reference) lines of `--src/--ref`, else of the run's test split."""
    import seqattn
    from seqattn.data.corpus import read_lines
    from seqattn.data.pipeline import load_splits

    if src and ref:
        return read_lines(src)[:n], read_lines(ref)[:n]
    test = load_splits(seqattn.load(run, device="cpu").cfg.data)[2]
    return list(test.src)[:n], list(test.tgt)[:n]


def half(text: str) -> str:
    """The first half of a text's words (at least one word), as a user would type a start."""
    words = text.split()
    return " ".join(words[: max(1, len(words) // 2)])


def timed(translator, sources: list[str], beam: int, prefixes: list[str] | None, repeats: int) -> dict:
    """Median ms per sentence decoded one at a time, and sentences/s of one batched call (median of
    `repeats`)."""
    translator.translate(sources[:4], beam=beam, prefix=prefixes[:4] if prefixes else None)  # (warm-up)
    one = []
    for i, text in enumerate(sources):
        started = time.perf_counter()
        translator.translate([text], beam=beam, prefix=prefixes[i] if prefixes else None)
        one.append(time.perf_counter() - started)
    batched = []
    for _ in range(repeats):
        started = time.perf_counter()
        translator.translate(sources, beam=beam, prefix=prefixes)
        batched.append(time.perf_counter() - started)
    return {"ms_per_sentence": round(median(one) * 1e3, 2),
            "batched_per_second": round(len(sources) / median(batched), 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, help="run directories (ensembles use the first k)")
    ap.add_argument("--beam", type=int, default=5, help="the beam size besides greedy (default 5)")
    ap.add_argument("--sentences", type=int, default=200, help="test lines to decode (default 200)")
    ap.add_argument("--repeats", type=int, default=3, help="batched calls per setting (median; default 3)")
    ap.add_argument("--src", help="sources (default: the first run's test split)")
    ap.add_argument("--ref", help="references, one per source line (the 'other' prefixes)")
    ap.add_argument("--precision", default="fp32", help="decoding precision of every model (default fp32)")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    import seqattn

    env = print_environment()
    sources, references = split_of(a.runs[0], a.src, a.ref, a.sentences)
    print(f"{len(sources)} sentences, greedy and beam {a.beam}, {a.precision}", flush=True)
    rows: list[dict] = []
    one = seqattn.load(a.runs[0], device="cpu", precision=a.precision)
    models = [("1 model", one)] + [
        (f"ensemble of {k}", seqattn.load(a.runs[:k], device="cpu", precision=a.precision))
        for k in range(2, len(a.runs) + 1)]
    own = [half(t.text) for t in one.translate(sources, beam=1)]
    other = [half(r) for r in references]
    for beam in (1, a.beam):
        for name, model in models:
            rows.append({"model": name, "beam": beam, "prefix": "none",
                         **timed(model, sources, beam, None, a.repeats)})
            print(rows[-1], flush=True)
        for kind, prefixes in (("own", own), ("other", other)):
            rows.append({"model": "1 model", "beam": beam, "prefix": kind,
                         **timed(one, sources, beam, prefixes, a.repeats)})
            print(rows[-1], flush=True)
    base = {(r["beam"]): r for r in rows if r["model"] == "1 model" and r["prefix"] == "none"}
    for r in rows:
        b = base[r["beam"]]
        r["x_one_model_per_sentence"] = round(r["ms_per_sentence"] / b["ms_per_sentence"], 2)
        r["x_one_model_batched"] = round(b["batched_per_second"] / r["batched_per_second"], 2)
    print()
    print(table([[r["model"], r["beam"], r["prefix"], f"{r['ms_per_sentence']:.1f}",
                  f"{r['x_one_model_per_sentence']:.2f}", f"{r['batched_per_second']:.0f}",
                  f"{r['x_one_model_batched']:.2f}"] for r in rows],
                ["model", "beam", "prefix", "ms/sentence (1 at a time)", "x one model", "sentences/s batched",
                 "x one model's time"]))
    write_json(a.json, {"runs": a.runs, "sentences": len(sources), "precision": a.precision,
                        "results": rows, "date": time.strftime("%Y-%m-%d"),
                        "command": " ".join(["python", *sys.argv]), "environment": env})
    return 0


if __name__ == "__main__":
    sys.exit(main())
