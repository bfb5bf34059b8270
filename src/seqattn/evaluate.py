"""Evaluating a run: translate a file, score it (scoring.py) and its teacher-forced perplexity."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from seqattn.data.batching import make_batch
from seqattn.data.corpus import read_lines
from seqattn.data.subword import PAD_ID
from seqattn.errors import SeqattnError
from seqattn.model.loss import sequence_cross_entropy
from seqattn.model.seq2seq import Seq2Seq
from seqattn.precision import Precision
from seqattn.scoring import Scores, group_references, score_texts
from seqattn.translator import Translator


@torch.no_grad()
def perplexity(model: Seq2Seq, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]],
               batch_size: int = 64, precision: Precision | None = None) -> tuple[float, float]:
    """Teacher-forced NLL per target token and its exponent (perplexity); `precision` gives
    the autocast (default: fp32)."""
    device = next(model.parameters()).device
    precision = precision or Precision("fp32", device)
    order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    with precision.autocast():
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


def evaluate_files(translator: Translator, src_file: str, ref_file: str, beam: int | None = None,
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
    outputs = [t.text for t in translator.translate(sources, beam=beam, n_best=1)]
    if group:
        firsts = {}
        for s, o in zip(sources, outputs):
            firsts.setdefault(s, o)
        unique, refs = group_references(sources, references)
        scores = score_texts([firsts[s] for s in unique], refs, metrics)
    else:
        scores = score_texts(outputs, references, metrics)
    sub = translator.subwords
    keep = [i for i, (s, r) in enumerate(zip(sources, references)) if s.strip() and r.strip()]
    src_ids = sub.encode_src([sources[i] for i in keep])
    tgt_ids = sub.encode_tgt([references[i] for i in keep])
    keep = [k for k in range(len(keep)) if src_ids[k] and tgt_ids[k]]
    if keep:
        scores.loss, scores.ppl = perplexity(translator.model, [src_ids[k] for k in keep],
                                             [tgt_ids[k] for k in keep], cfg.decode.batch_size,
                                             translator.policy)
    return scores, outputs
