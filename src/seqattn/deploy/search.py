"""Greedy and beam search in NumPy over an `OnnxStepper`: the torch-free copy of `seqattn.search`.

The same algorithm, step for step, as `search/greedy.py` and `search/beam.py` (read those for
the why): the output limit of `seqattn.limits`, finished rows leaving the batch, each beam
hypothesis proposing its own 2k best tokens, the 2k best of a sentence's k x 2k ranked, EOS
candidates in the top k finished, the k best others continuing, a sentence done at k finished
or at its limit, scores normalised by `length_penalty`. `tests/deploy/` checks that the two
copies find the same outputs, scores and attention on every architecture the config allows.
"""

from __future__ import annotations

import numpy as np

from seqattn.hypotheses import Forced, Hypothesis, length_penalty
from seqattn.limits import max_output_length


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """(rows, vocab) -> log-probabilities (rows, vocab) fp32."""
    x = logits.astype(np.float32, copy=False)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def topk(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k largest of each row of x (rows, n), largest first: (values, indices)."""
    rows = np.arange(x.shape[0])[:, None]
    if x.shape[-1] <= 256 or k >= x.shape[-1]:  # (short rows: one sort beats a partition)
        idx = np.argsort(-x, axis=-1, kind="stable")[:, :k]
    else:
        part = np.argpartition(-x, k - 1, axis=-1)[:, :k]
        idx = part[rows, np.argsort(-x[rows, part], axis=-1, kind="stable")]
    return x[rows, idx], idx


def greedy(stepper, src: np.ndarray, src_lengths: np.ndarray, max_len_a: float, max_len_b: int,
           sos_id: int, eos_id: int) -> list[Hypothesis]:
    """src (batch, src_len), src_lengths (batch,) -> one hypothesis per sentence."""
    memory, state = stepper.encode(src, src_lengths)
    batch, src_len = src.shape
    limits = np.array([max_output_length(int(n), max_len_a, max_len_b) for n in src_lengths])
    steps = int(limits.max())
    out = np.full((batch, steps), eos_id, dtype=np.int64)
    attn = np.zeros((batch, steps, src_len), dtype=np.float32)
    scores = np.zeros(batch, dtype=np.float32)
    lengths = limits.copy()
    active = np.arange(batch)  # the sentence of each row
    alive = np.ones(batch, dtype=bool)
    tokens = np.full(batch, sos_id, dtype=np.int64)
    for t in range(steps):
        top_lp, top_ids, state, weights = stepper.step_top(tokens, state, memory, 1)
        tokens, best_lp = top_ids[:, 0], top_lp[:, 0]
        sid = active[alive]
        out[sid, t] = tokens[alive]
        scores[sid] += best_lp[alive]
        if weights is not None:
            attn[sid, t] = weights[alive]
        done = alive & ((tokens == eos_id) | (t + 1 >= limits[active]))
        if done.any():
            lengths[active[done]] = t + 1
            alive = alive & ~done
            if not alive.any():
                break
            keep = np.flatnonzero(alive)
            active, tokens, alive = active[keep], tokens[keep], alive[keep]
            state, memory = state.index_select(keep), memory.index_select(keep)
    return [Hypothesis(out[i, : lengths[i]].tolist(), float(scores[i]),
                       attn[i, : lengths[i], : src_lengths[i]].copy() if stepper.has_attention else None)
            for i in range(batch)]


def beam(stepper, src: np.ndarray, src_lengths: np.ndarray, k: int, n_best: int, alpha: float,
         max_len_a: float, max_len_b: int, sos_id: int, eos_id: int) -> list[list[Hypothesis]]:
    """src (batch, src_len), src_lengths (batch,) -> the `n_best` best hypotheses per sentence."""
    memory, state = stepper.encode(src, src_lengths)
    batch, src_len = src.shape
    sent, alive = list(range(batch)), [True] * batch  # per block of k rows
    scores = np.full((batch, k), -np.inf, dtype=np.float32)
    scores[:, 0] = 0.0  # one live hypothesis at the start
    tokens = np.full(batch * k, sos_id, dtype=np.int64)
    hist = np.zeros((batch * k, 0), dtype=np.int64)
    hist_attn = np.zeros((batch * k, 0, src_len), dtype=np.float32)
    state, memory = state.index_select(np.repeat(np.arange(batch), k)), memory.grouped(k)
    limits = [max_output_length(int(n), max_len_a, max_len_b) for n in src_lengths]
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    n_cand = min(2 * k, stepper.vocab)  # each hypothesis proposes its 2k best tokens
    for t in range(max(limits)):
        live = len(sent)
        row_lp, row_tok, state, weights = stepper.step_top(tokens, state, memory, n_cand)  # (live * k, 2k)
        cand = (scores[:, :, None] + row_lp.reshape(live, k, n_cand)).reshape(live, k * n_cand)
        top_scores, top_ids = topk(cand, min(2 * k, k * n_cand))  # (live, 2k)
        origin = top_ids // n_cand + np.arange(live)[:, None] * k
        token = np.take_along_axis(row_tok.reshape(live, k * n_cand), top_ids, 1)
        is_eos = token == eos_id
        at_limit = [a and t + 1 >= limits[s] for s, a in zip(sent, alive)]
        rank_ok = np.arange(top_ids.shape[1])[None, :] < k
        to_finish = rank_ok & (is_eos | np.array(at_limit)[:, None]) & np.isfinite(top_scores)
        for b, j in np.argwhere(to_finish).tolist():
            sid = sent[b]
            if alive[b] and (len(finished[sid]) < k or at_limit[b]):
                row = int(origin[b, j])
                seq = hist[row].tolist() + [int(token[b, j])]
                att = None
                if weights is not None:
                    att = np.concatenate([hist_attn[row], weights[row][None]], 0)[:, : int(src_lengths[sid])]
                score = float(top_scores[b, j]) / length_penalty(len(seq), alpha)
                finished[sid].append(Hypothesis(seq, score, att))
        scores, pick = topk(np.where(is_eos, np.float32(-np.inf), top_scores), k)  # the k best others go on
        rows = np.take_along_axis(origin, pick, 1).reshape(-1)
        tokens = np.take_along_axis(token, pick, 1).reshape(-1)
        hist = np.concatenate([hist[rows], tokens[:, None]], 1)
        if weights is not None:
            hist_attn = np.concatenate([hist_attn[rows], weights[rows][:, None]], 1)
        state = state.index_select(rows)  # (rows stay in their sentence's block: the memory stays)
        done = [a and (lim or len(finished[s]) >= k) for a, lim, s in zip(alive, at_limit, sent)]
        if not any(done):
            continue
        alive = [a and not d for a, d in zip(alive, done)]
        if not any(alive):
            break
        keep_b = [b for b, a in enumerate(alive) if a]
        keep_rows = np.array([b * k + i for b in keep_b for i in range(k)])
        sent, alive = [sent[b] for b in keep_b], [alive[b] for b in keep_b]
        scores, tokens, hist = scores[keep_b], tokens[keep_rows], hist[keep_rows]
        if weights is not None:
            hist_attn = hist_attn[keep_rows]
        state, memory = state.index_select(keep_rows), memory.index_select(np.array(keep_b))
    return [sorted(hyps, key=lambda h: h.score, reverse=True)[:n_best] for hyps in finished]


def forced(stepper, src: np.ndarray, src_lengths: np.ndarray, targets: list[list[int]], sos_id: int,
           eos_id: int) -> list[Forced]:
    """Each target (EOS appended) fed through the decoder one step at a time, as
    `seqattn.search.forced_scores`: the log-probability of each of its tokens, and the attention."""
    memory, state = stepper.encode(src, src_lengths)
    batch, src_len = src.shape
    seqs = [list(t) + [eos_id] for t in targets]
    steps = max(len(s) for s in seqs)
    padded = np.array([s + [eos_id] * (steps - len(s)) for s in seqs], dtype=np.int64)
    logps = np.zeros((batch, steps), dtype=np.float32)
    attn = np.zeros((batch, steps, src_len), dtype=np.float32)
    tokens = np.full(batch, sos_id, dtype=np.int64)
    for t in range(steps):
        logits, state, weights = stepper.step(tokens, state, memory)
        tokens = padded[:, t]
        logps[:, t] = log_softmax(logits)[np.arange(batch), tokens]
        if weights is not None:
            attn[:, t] = weights
    return [Forced(s, logps[i, : len(s)].tolist(),
                   attn[i, : len(s), : src_lengths[i]].copy() if stepper.has_attention else None)
            for i, s in enumerate(seqs)]
