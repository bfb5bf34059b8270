"""Forced decoding: the step function run along given targets, reading off each token's
log-probability and where the decoder attended."""

from __future__ import annotations

import torch

from seqattn.data.subword import EOS_ID, SOS_ID
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search.hypotheses import Forced
from seqattn.search.rows import LogSoftmax
from seqattn.search.stepper import Stepper, as_stepper


@torch.no_grad()
def forced_scores(model: Seq2Seq | Stepper, src: torch.Tensor, src_lengths: torch.Tensor,
                  targets: list[list[int]], sos_id: int = SOS_ID, eos_id: int = EOS_ID) -> list[Forced]:
    """Feed each target (EOS appended) through the decoder as the searches do, one step at a
    time, and read off the log-probability of each of its tokens. src (batch, src_len)."""
    model = as_stepper(model)
    memory, state = model.encode(src, src_lengths)
    batch, src_len = src.shape
    seqs = [list(t) + [eos_id] for t in targets]
    steps = max(len(s) for s in seqs)
    padded = torch.tensor([s + [eos_id] * (steps - len(s)) for s in seqs], device=src.device)
    logps = torch.zeros(batch, steps, device=src.device)
    attn = torch.zeros(batch, steps, src_len, device=src.device)
    tokens = torch.full((batch,), sos_id, dtype=torch.long, device=src.device)
    log_softmax = LogSoftmax()
    for t in range(steps):
        logits, state, weights = model.step(tokens, state, memory)
        tokens = padded[:, t]
        logps[:, t] = log_softmax(logits).gather(1, tokens[:, None])[:, 0]
        if weights is not None:
            attn[:, t] = weights.float()
    lengths = src_lengths.tolist()
    return [Forced(s, logps[i, : len(s)].tolist(),
                   attn[i, : len(s), : lengths[i]].cpu().numpy() if model.has_attention else None)
            for i, s in enumerate(seqs)]
