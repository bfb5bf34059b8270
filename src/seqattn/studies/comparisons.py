"""Three comparisons of trained arms, scored by source length: `bottleneck`, `reverse`, `scores`.

  bottleneck  attention `none` vs `general` at equal parameter count and step budget
  reverse     attention `none` reading the source forwards vs reversed (Sutskever et al.),
              with a one-way encoder
  scores      none / dot / general / additive / scaled_dot side by side

Each trains every arm on a synthetic copy task (lengths 5-60) for several seeds, and, with
`data=DIR` (Multi30k), on German->English too, then writes results.csv, figure PNGs and
summary.md into its folder.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from seqattn.config import build_config
from seqattn.evaluate import perplexity
from seqattn.scoring import score_texts
from seqattn.studies.common import (
    LENGTH_BUCKETS,
    ONE_WAY,
    Arm,
    accuracy_by_length,
    bucket_of,
    count_parameters,
    markdown_table,
    match_parameters,
    mean_std,
    plot_lines,
    synthetic_pairs,
    synthetic_tree,
    train_arm,
    train_arms,
    write_csv,
    write_summary,
)

M30K_BUCKETS = [(1, 9), (10, 12), (13, 15), (16, 19), (20, 200)]
ARMS = {
    "bottleneck": lambda: [Arm("none", ["model.attention.type=none"]), Arm("attention (general)")],
    "reverse": lambda: [Arm("none", ["model.attention.type=none", *ONE_WAY]),
                        Arm("none + reversed source", ["model.attention.type=none", *ONE_WAY,
                                                       "model.encoder.reverse_source=true"])],
    "scores": lambda: [Arm(k, [f"model.attention.type={k}"])
                       for k in ["none", "dot", "general", "additive", "scaled_dot"]],
}
SCORES_STEPS = 300  # by 600 steps every attention variant copies almost perfectly
DOT_SIZES = ["model.decoder.hidden_size=256"]  # dot products need decoder == 2 x 128 encoder


def _arms(study: str, tree: dict, vocab: int) -> list[Arm]:
    arms = ARMS[study]()
    if study == "scores" and vocab < 1000:
        return [Arm(a.name, [*a.overrides, *DOT_SIZES]) for a in arms]
    if study == "bottleneck":  # equal size: widen the attention-free decoder
        target = count_parameters(build_config(tree, arms[1].overrides), vocab)
        arms[0] = Arm(arms[0].name, match_parameters(tree, arms[0].overrides, target, vocab))
    return arms


def _bleu_by_length(outputs: list[str], src: list[str], ref: list[str]) -> list[float]:
    per = [([], []) for _ in M30K_BUCKETS]
    for s, r, o in zip(src, ref, outputs):
        b = bucket_of(len(s.split()), M30K_BUCKETS)
        if b is not None:
            per[b][0].append(o)
            per[b][1].append(r)
    return [score_texts(h, r, ["bleu"]).bleu if h else float("nan") for h, r in per]


def _synthetic(study: str, out: Path, quick: bool, seeds: int) -> tuple[list[list], list[str]]:
    tree = synthetic_tree(out / "data", "copy", quick)
    if study == "scores" and not quick:  # five arms: half the steps keeps the study in 5 minutes
        tree["train"].update(max_steps=SCORES_STEPS, val_every=SCORES_STEPS)
    test = synthetic_pairs("copy", 200 if quick else 1000, seed=3)
    arms = _arms(study, tree, 48)
    trained = iter(train_arms(tree, [(arm, seed) for arm in arms for seed in range(1, seeds + 1)], out))
    rows, series, overall = [], {}, []
    for arm in arms:
        accs, speeds, ppls, bleus = [], [], [], []
        for seed in range(1, seeds + 1):
            tr, speed, params = next(trained)
            outputs = [t.text for t in tr.translate([s for s, _ in test], beam=1)]
            accs.append(accuracy_by_length(outputs, test))
            bleus.append(score_texts(outputs, [r for _, r in test], ["bleu"]).bleu)
            ids = tr.subwords
            ppls.append(perplexity(tr.model, ids.encode_src([s for s, _ in test]),
                                   ids.encode_tgt([r for _, r in test]))[1])
            speeds.append(speed)
            rows += [["copy", arm.name, seed, params, f"{lo}-{hi}", acc]
                     for (lo, hi), acc in zip(LENGTH_BUCKETS, accs[-1])]
        series[arm.name] = [mean_std([a[i] for a in accs]) for i in range(len(LENGTH_BUCKETS))]
        rows.append(["copy", arm.name, "all", params, "BLEU", statistics.fmean(bleus)])
        rows.append(["copy", arm.name, "all", params, "ppl", statistics.fmean(ppls)])
        rows.append(["copy", arm.name, "all", params, "tokens/s", statistics.fmean(speeds)])
        overall.append([arm.name, f"{params:,}", _spread(bleus), _spread(ppls, 3),
                        f"{statistics.fmean(speeds):,.0f}"])
    labels = [f"{lo}-{hi}" for lo, hi in LENGTH_BUCKETS]
    plot_lines(out / "synthetic.png", labels, series, "source length (symbols)",
               "symbol accuracy (%)",
               f"{study}: copy task, {tree['train']['max_steps']} steps, mean ± std over {seeds} seed(s)")
    table = [[name] + [f"{m:.1f} ± {s:.1f}" for m, s in pts] for name, pts in series.items()]
    section = ["## Synthetic copy task (symbol accuracy %, by source length)", "",
               markdown_table(["arm", *labels], table), "", "![synthetic](synthetic.png)", "",
               f"Whole test set ({len(test)} sequences; mean ± std over {seeds} seed(s); tokens/s "
               "while training, runs side by side with one thread each when there are spare cores):",
               "", markdown_table(["arm", "parameters", "BLEU", "perplexity", "tokens/s"], overall), ""]
    return rows, section


def _spread(values: list[float], digits: int = 1) -> str:
    mean, std = mean_std(values)
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if len(values) > 1 else f"{mean:.{digits}f}"


def _multi30k(study: str, out: Path, data: str, minutes: float) -> tuple[list[list], list[str]]:
    """Train every arm for an equal share of `minutes` and score test_2016 by source length."""
    d = Path(data)
    n_arms = len(ARMS[study]())
    per_arm = minutes / n_arms
    tree = {
        "name": f"{study}-multi30k",
        "data": {"train": {"src": str(d / "train.de.gz"), "tgt": str(d / "train.en.gz")},
                 "dev": {"src": str(d / "val.de.gz"), "tgt": str(d / "val.en.gz")},
                 "test": {"src": str(d / "test_2016_flickr.de.gz"),
                          "tgt": str(d / "test_2016_flickr.en.gz")},
                 "subword": {"vocab_size": 8000}, "max_len": 80},
        "train": {"max_minutes": per_arm, "val_every": 1000, "heatmaps": 0},
        "decode": {"beam": 1},
    }
    from seqattn.data.corpus import read_lines

    src = read_lines(str(d / "test_2016_flickr.de.gz"))
    ref = read_lines(str(d / "test_2016_flickr.en.gz"))
    rows, series, overall = [], {}, []
    for arm in _arms(study, tree, 8000):
        tr, speed, params = train_arm(tree, arm, 1, out / "multi30k")
        outputs = [t.text for t in tr.translate(src, beam=1)]
        bleus = _bleu_by_length(outputs, src, ref)
        total = score_texts(outputs, ref, ["bleu"]).bleu
        ppl = perplexity(tr.model, tr.subwords.encode_src(src), tr.subwords.encode_tgt(ref))[1]
        series[arm.name] = [(b, 0.0) for b in bleus]
        rows += [["multi30k", arm.name, 1, params, f"{lo}-{hi}", b]
                 for (lo, hi), b in zip(M30K_BUCKETS, bleus)]
        rows += [["multi30k", arm.name, 1, params, "BLEU", total],
                 ["multi30k", arm.name, 1, params, "ppl", ppl],
                 ["multi30k", arm.name, 1, params, "tokens/s", speed]]
        overall.append([arm.name, f"{params:,}", f"{total:.1f}", f"{ppl:.2f}", f"{speed:,.0f}"])
    labels = [f"{lo}-{hi}" if hi < 200 else f"{lo}+" for lo, hi in M30K_BUCKETS]
    plot_lines(out / "multi30k.png", labels, series, "source length (words)", "BLEU (greedy)",
               f"{study}: Multi30k de-en test_2016_flickr, {per_arm:g} min per arm")
    table = [[name] + [f"{m:.1f}" for m, _ in pts] for name, pts in series.items()]
    sizes = [sum(bucket_of(len(s.split()), M30K_BUCKETS) == b for s in src) for b in range(len(labels))]
    return rows, ["## Multi30k de→en (BLEU by source length, greedy)", "",
                  markdown_table(["arm", *[f"{x} (n={n})" for x, n in zip(labels, sizes)]], table),
                  "", "![multi30k](multi30k.png)", "",
                  f"Whole test_2016_flickr ({len(src):,} sentences; one seed; {per_arm:g} min of training "
                  "per arm, all threads):", "",
                  markdown_table(["arm", "parameters", "BLEU", "perplexity", "tokens/s"], overall), ""]


def run(study: str, out: Path, quick: bool = False, data: str | None = None, seeds: int | None = None,
        minutes: float = 22.0) -> dict:
    """Run one comparison study; returns {arm: mean accuracy per synthetic bucket}."""
    seeds = seeds or (1 if quick else 2)
    start = time.monotonic()
    rows, sections = _synthetic(study, out, quick, seeds)
    wall = {"synthetic_wall_minutes": round((time.monotonic() - start) / 60, 1)}
    if data:
        start = time.monotonic()
        more_rows, more = _multi30k(study, out, data, minutes)
        rows, sections = rows + more_rows, sections + more
        wall["multi30k_wall_minutes"] = round((time.monotonic() - start) / 60, 1)
    write_csv(out / "results.csv", ["task", "arm", "seed", "parameters", "bucket", "value"], rows)
    write_summary(out, f"Study: {study}", sections,
                  {"quick": quick, "seeds": seeds, "multi30k": data or "not run",
                   "multi30k_training_minutes":
                       f"{minutes:g} in all, {minutes / len(ARMS[study]()):g} per arm" if data else "-",
                   **wall})
    accuracy: dict[str, list[float]] = {}
    for task, arm, seed, _, _bucket, value in rows:
        if task == "copy" and seed != "all":
            accuracy.setdefault(arm, []).append(value)
    n = len(LENGTH_BUCKETS)
    return {arm: [statistics.fmean(v[i::n]) for i in range(n)] for arm, v in accuracy.items()}
