"""Evaluating a run: decode a split and score it (scoring.py), its teacher-forced perplexity,
and both for a pair of files. `score_split` is the one way a split is decoded and scored:
`seqattn evaluate` and training's validation and test scores both go through it.

Either translator evaluates: a run directory's (`seqattn.translator`) or an exported model's
(`seqattn.deploy`). torch is imported only for the first, so evaluating an exported model runs
where torch is not installed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from seqattn.data.corpus import read_lines
from seqattn.deploy import ExportedTranslator
from seqattn.errors import SeqattnError
from seqattn.scoring import Scores, group_references, score_texts

if TYPE_CHECKING:
    from seqattn.model.seq2seq import Seq2Seq
    from seqattn.precision import Precision
    from seqattn.translator import Translator

AnyTranslator = Union["Translator", ExportedTranslator]  # (what `translate` and `score` are asked of)


@dataclass
class Decoded:
    """A decoded split as scored: each source (once, when references are grouped), its
    references and the output."""

    sources: list[str]
    references: list[list[str]]
    outputs: list[str]


def score_split(translator: AnyTranslator, sources: Sequence[str], references: Sequence[str],
                metrics: Sequence[str], beam: int | None = None,
                group: bool = False) -> tuple[Scores, Decoded]:
    """Decode `sources` (line-aligned with `references`) and score the outputs with `metrics`.

    With `group`, lines with the same source are one source with all their references (in
    order of first appearance), decoded once and scored once; otherwise every line is a
    source with its one reference. The outputs are searched for, never sampled
    (`decode.sampling` aside)."""
    if group:
        unique, refs = group_references(sources, references)
    else:
        unique, refs = list(sources), [[r] for r in references]
    drawing = getattr(getattr(getattr(translator, "cfg", None), "decode", None), "sampling", None)
    samples_by_default = bool(drawing and drawing.samples) and not isinstance(translator, ExportedTranslator)
    searched = {"sample": 0} if samples_by_default else {}  # (searched here all the same)
    outputs = [t.text for t in translator.translate(unique, beam=beam, n_best=1, **searched)]
    return score_texts(outputs, refs, metrics), Decoded(unique, refs, outputs)


def perplexity(model: Seq2Seq, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]],
               batch_size: int = 64, precision: Precision | None = None) -> tuple[float, float]:
    """Teacher-forced NLL per target token and its exponent (perplexity); `precision` gives
    the autocast (default: fp32)."""
    import torch

    from seqattn.data.batching import make_batch
    from seqattn.data.subword import PAD_ID
    from seqattn.model.loss import sequence_cross_entropy
    from seqattn.precision import Precision

    device = next(model.parameters()).device
    precision = precision or Precision("fp32", device)
    order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    with precision.autocast(), torch.no_grad():
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            b = make_batch([src_ids[i] for i in idx], [tgt_ids[i] for i in idx], idx).to(device)
            attentional, _ = model(b.src, b.src_lengths, b.tgt_in)
            _, nll, n = sequence_cross_entropy(attentional, b.tgt_out, model.decoder.output,
                                               0.0, PAD_ID)
            total, tokens = total + float(nll), tokens + n
    model.train(was_training)
    loss = total / max(tokens, 1)
    return loss, math.exp(min(loss, 50.0))


def forced_perplexity(translator: AnyTranslator, src_ids: Sequence[Sequence[int]],
                      tgt_ids: Sequence[Sequence[int]]) -> tuple[float, float]:
    """`perplexity` for an exported model or an ensemble: from its forced decoding, the same
    numbers (forced decoding is teacher forcing one step at a time; no dropout at inference)."""
    forced = translator.forced_ids(src_ids, tgt_ids)
    tokens = sum(len(f.logprobs) for f in forced)
    loss = -sum(float(sum(f.logprobs)) for f in forced) / max(tokens, 1)
    return loss, math.exp(min(loss, 50.0))


def evaluate_files(translator: AnyTranslator, src_file: str, ref_file: str, beam: int | None = None,
                   metrics: Sequence[str] | None = None,
                   group: bool | None = None) -> tuple[Scores, list[str]]:
    """Translate `src_file` and score it against `ref_file` (line-aligned, plain or .gz) with
    `metrics` (default: the run's `eval.metrics`); `group` scores lines with the same source as
    one source with several references (default: the run's `eval.group_references`)."""
    sources, references = read_lines(src_file), read_lines(ref_file)
    if len(sources) != len(references):
        raise SeqattnError(f"{src_file} has {len(sources)} lines but {ref_file} has "
                           f"{len(references)}: they must be line-aligned")
    if not sources:
        raise SeqattnError(f"{src_file}: empty file")
    cfg = translator.cfg
    metrics = list(metrics or cfg.eval.metrics)
    group = cfg.eval.group_references if group is None else group
    scores, decoded = score_split(translator, sources, references, metrics, beam, group)
    outputs = decoded.outputs
    if group:  # one output per line again: a repeated source's output on each of its lines
        output_of = dict(zip(decoded.sources, decoded.outputs))
        outputs = [output_of[s] for s in sources]
    sub = translator.subwords
    keep = [i for i, (s, r) in enumerate(zip(sources, references)) if s.strip() and r.strip()]
    src_ids = sub.encode_src([sources[i] for i in keep])
    tgt_ids = sub.encode_tgt([references[i] for i in keep])
    keep = [k for k in range(len(keep)) if src_ids[k] and tgt_ids[k]]
    pairs = [src_ids[k] for k in keep], [tgt_ids[k] for k in keep]
    if keep and (isinstance(translator, ExportedTranslator) or translator.model is None):  # (an ensemble)
        scores.loss, scores.ppl = forced_perplexity(translator, *pairs)
    elif keep:
        scores.loss, scores.ppl = perplexity(translator.model, *pairs, cfg.decode.batch_size,
                                             translator.policy)
    return scores, outputs
