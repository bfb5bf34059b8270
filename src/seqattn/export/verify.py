"""Before an export is published: the graphs, run by ONNX Runtime, against the PyTorch model.

The model decodes the check sentences greedily and with a beam; then both the model and the
graphs are forced along every output found (`seqattn.search.forced_scores` and its NumPy copy
in `seqattn.deploy.search`). They agree when every token's log-probability and every
attention weight is within `TOLERANCE` (a looser one for int8 graphs). (Comparing the two
searches' outputs instead would refuse good graphs over near-ties that float summation order
breaks either way.)

int8 graphs are compared with the fp32 model, not with PyTorch's own int8 copy
(`decoding_copy`): the two int8 schemes differ (uint8 activations here, PyTorch's reduced range
there), so neither is the closer reference. Rounding moves a few uncertain tokens of a trained
model by a few tenths (on a trained G2P run, 0.34 at most, 0.014 on average over the check
outputs), so int8 graphs are held to a loose bound per token and a tight one on average: a
broken graph is off by whole units nearly everywhere. Whether int8 costs quality is measured
on a test set (`benchmarks/runtime_speed.py`), not here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from seqattn.config import DecodeConfig
from seqattn.data.subword import EOS_ID, SOS_ID
from seqattn.deploy import search
from seqattn.deploy.stepper import OnnxStepper
from seqattn.deploy.translator import pad_sources
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search import BeamSearch, GreedySearch, forced_scores

# quantization: (largest per-token log-probability gap, mean gap over all tokens, attention weight gap)
TOLERANCE = {None: (1e-3, 1e-3, 1e-3), "int8": (1.0, 0.05, 0.25)}
VERIFY_BEAM = 5  # (at most: the run's own beam when smaller)


def disagreement(model: Seq2Seq, stepper: OnnxStepper, sources: Sequence[Sequence[int]],
                 decode: DecodeConfig, quantize: str | None = None) -> str | None:
    """The first way the graphs disagree with `model` on `sources` (subword ids), or None."""
    logprob_tolerance, mean_tolerance, attention_tolerance = TOLERANCE[quantize]
    src, lengths = pad_sources(sources)
    limits = dict(max_len_a=decode.max_len_a, max_len_b=decode.max_len_b)
    beam = min(decode.beam, VERIFY_BEAM)
    with torch.inference_mode():
        t_src, t_len = torch.from_numpy(src), torch.from_numpy(lengths)
        found = [[h] for h in GreedySearch(**limits).run(model, t_src, t_len)]
        if beam > 1:
            by_beam = BeamSearch(beam=beam, n_best=beam, alpha=decode.length_penalty, **limits)
            found = [g + b for g, b in zip(found, by_beam.run(model, t_src, t_len))]
        rows = [i for i, hyps in enumerate(found) for _ in hyps]
        targets = [h.tokens[:-1] if h.tokens[-1:] == [EOS_ID] else h.tokens for hyps in found for h in hyps]
        mine = forced_scores(model, t_src[rows], t_len[rows], targets)
    theirs = search.forced(stepper, src[rows], lengths[rows], targets, SOS_ID, EOS_ID)
    gaps = np.concatenate([np.abs(np.subtract(a.logprobs, b.logprobs)) for a, b in zip(mine, theirs)])
    if gaps.size and not float(gaps.mean()) <= mean_tolerance:
        return f"log-probabilities differ by {float(gaps.mean()):.2g} on average"
    for n, (row, a, b) in enumerate(zip(rows, mine, theirs)):
        what = f"sentence {row + 1}, output {n - rows.index(row) + 1}"
        gap = float(np.abs(np.subtract(a.logprobs, b.logprobs)).max())
        if not gap <= logprob_tolerance:
            return f"{what}: log-probabilities differ by up to {gap:.2g}"
        if a.attention is not None:
            gap = float(np.abs(a.attention - b.attention).max()) if b.attention is not None else np.inf
            if not gap <= attention_tolerance:
                return f"{what}: attention weights differ by up to {gap:.2g}"
    return None
