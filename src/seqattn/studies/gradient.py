"""The `gradient` study: does attention give gradients a shortcut to distant source words?

For a batch of fixed-length copy sequences we measure, per source position, the norm of the
loss gradient with respect to that position's embedding (averaged over the batch), for a
model with attention and one without, at initialisation and after training. Positions are
plotted by their distance from the end of the source: without attention, the gradient must
travel back through every later encoder step. The encoder reads one way (left to right): a
bidirectional one would put both ends of the source next to the context vector.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from seqattn.data.batching import make_batch
from seqattn.data.subword import PAD_ID
from seqattn.model.loss import sequence_cross_entropy
from seqattn.model.seq2seq import Seq2Seq
from seqattn.studies.common import (
    ONE_WAY,
    Arm,
    markdown_table,
    mean_std,
    plot_lines,
    synthetic_pairs,
    synthetic_tree,
    train_arms,
    write_csv,
    write_summary,
)

LENGTH = 40
DISTANCE_BINS = [(0, 4), (5, 9), (10, 19), (20, 29), (30, 40)]


def gradient_by_position(model: Seq2Seq, src_ids: list[list[int]], tgt_ids: list[list[int]]) -> torch.Tensor:
    """Mean over the batch of ||d loss / d embedding|| per source position, (src_len,)."""
    batch = make_batch(src_ids, tgt_ids, list(range(len(src_ids))))
    captured = {}

    def keep(_module, _inputs, output):
        output.retain_grad()
        captured["emb"] = output

    hook = model.encoder.embedding.register_forward_hook(keep)
    was_training = model.training
    model.eval()  # no dropout: measure the network, not the noise
    try:
        model.zero_grad(set_to_none=True)
        attentional, _ = model(batch.src, batch.src_lengths, batch.tgt_in)
        loss, _, n = sequence_cross_entropy(attentional, batch.tgt_out, model.decoder.output, 0.0, PAD_ID)
        (loss / n).backward()
    finally:
        hook.remove()
        model.train(was_training)
    return captured["emb"].grad.norm(dim=-1).mean(0)  # (src_len,)


def _by_distance(norms: torch.Tensor) -> list[float]:
    """Average gradient norm per bin of distance from the source's end (EOS excluded)."""
    length = norms.numel() - 1  # last position is EOS
    dist = [length - 1 - i for i in range(length)]
    out = []
    for lo, hi in DISTANCE_BINS:
        vals = [float(norms[i]) for i in range(length) if lo <= dist[i] <= hi]
        out.append(sum(vals) / len(vals))
    return out


def run(out: Path, quick: bool = False, seeds: int | None = None, data: str | None = None,
        minutes: float = 0.0) -> dict:
    """Measure at init and after training, for attention vs none; returns the binned norms.
    (`data` and `minutes` are accepted for a uniform interface; this study is synthetic.)"""
    seeds = seeds or (1 if quick else 2)
    start = time.monotonic()
    tree = synthetic_tree(out / "data", "copy", quick)
    pairs = synthetic_pairs("copy", 32, seed=9, min_len=LENGTH, max_len=LENGTH)
    arms = [Arm("none", ["model.attention.type=none", *ONE_WAY]),
            Arm("attention (general)", list(ONE_WAY))]
    trained = iter(train_arms(tree, [(arm, seed) for arm in arms for seed in range(1, seeds + 1)], out))
    rows, series = [], {}
    for arm in arms:
        curves: dict[str, list[list[float]]] = {"init": [], "trained": []}
        for seed in range(1, seeds + 1):
            translator, _, _ = next(trained)
            sub = translator.subwords
            src = sub.encode_src([s for s, _ in pairs])
            tgt = sub.encode_tgt([t for _, t in pairs])
            torch.manual_seed(seed)
            fresh = Seq2Seq(translator.model.cfg, sub.src_vocab_size, sub.tgt_vocab_size)
            for stage, model in (("init", fresh), ("trained", translator.model)):
                curve = _by_distance(gradient_by_position(model, src, tgt))
                curves[stage].append(curve)
                rows += [[arm.name, stage, seed, f"{lo}-{hi}", v]
                         for (lo, hi), v in zip(DISTANCE_BINS, curve)]
        for stage, stage_curves in curves.items():
            series[f"{arm.name}, {stage}"] = [mean_std([c[i] for c in stage_curves])
                                             for i in range(len(DISTANCE_BINS))]
    labels = [f"{lo}-{hi}" for lo, hi in DISTANCE_BINS]
    plot_lines(out / "gradient.png", labels, series, "distance from the end of the source (tokens)",
               "mean ||dL/d embedding|| (log scale)",
               f"gradient reaching each source position (length {LENGTH})", log_y=True)
    write_csv(out / "results.csv", ["arm", "stage", "seed", "distance", "grad_norm"], rows)
    # how much of the gradient at the last words still reaches the first ones
    table = [[name] + [f"{m:.2e}" for m, _ in pts]
             + [f"{pts[-1][0] / pts[0][0]:.2g}" if pts[0][0] else "-"] for name, pts in series.items()]
    write_summary(out, "Study: gradient", [
        "## Gradient norm per source position, by distance from the end", "",
        markdown_table(["model", *labels, f"{labels[-1]} / {labels[0]}"], table), "",
        "![gradient](gradient.png)", ""],
        {"quick": quick, "seeds": seeds, "length": LENGTH, "task": "copy", "encoder": "one-way LSTM",
         "wall_minutes": round((time.monotonic() - start) / 60, 1)})
    return {name: [m for m, _ in pts] for name, pts in series.items()}
