"""Greedy and beam search over the decoder's step function, batched across sentences.

The encoder runs once per batch and attention keys are projected once; each step advances
every live hypothesis of every sentence in one RNN call, and finished sentences leave the
batch. Both searches return, per sentence, hypotheses with token ids (EOS included when
produced), a score, and the attention matrix (target steps x source positions). Beam search
can also record its tree: every candidate of every step, kept, finished or pruned.
`forced_scores` runs the same step function along given targets (forced decoding): the
log-probability of each target token, and where the decoder attended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from seqattn.model.seq2seq import Seq2Seq


@dataclass
class Hypothesis:
    tokens: list[int]  # output ids, EOS last when the search produced it
    score: float  # log-probability (greedy) or length-normalised log-probability (beam)
    attention: np.ndarray | None  # (len(tokens), src_len) weights, None without attention


@dataclass
class TreeNode:
    """One candidate of a beam-search step: a hypothesis extended by `token`."""

    id: int
    parent: int  # the node it extends (0: the start, <s>)
    step: int  # 0-based output position
    token: int
    score: float  # cumulative log-probability
    status: str  # "kept" (among the beam continuing), "finished" (ended; EOS or the limit), "pruned"
    attention: np.ndarray | None  # (src_len,) the weights the parent attended with at this step


@dataclass
class Forced:
    """A target forced through the decoder: its tokens (EOS last), the log-probability of each,
    and the attention of each step."""

    tokens: list[int]
    logprobs: list[float]
    attention: np.ndarray | None  # (len(tokens), src_len)


MAX_OUTPUT_TOKENS = 1024  # whatever the settings, no output grows past this


def max_lengths(src_lengths: torch.Tensor, a: float, b: int) -> torch.Tensor:
    """Output length limit per sentence: a * source length + b, at most MAX_OUTPUT_TOKENS."""
    return (src_lengths.float() * a + b).ceil().clamp(max=MAX_OUTPUT_TOKENS).long()


def length_penalty(length: int, alpha: float) -> float:
    """GNMT length penalty ((5 + length) / 6) ** alpha; alpha 0 gives raw log-probabilities."""
    return ((5.0 + length) / 6.0) ** alpha


def rows_to_keep(alive: torch.Tensor, multiple: int = 1) -> torch.Tensor | None:
    """Indices of the rows to keep once some finished: every live row, plus finished ones
    up to a multiple of `multiple` rows; None when no row can be dropped.

    Rounding the batch to a few sizes matters for bf16 on CPU, where oneDNN compiles a new
    kernel for every new matrix shape it meets.
    """
    n_live, n = int(alive.sum()), alive.numel()
    target = min(n, -(-n_live // multiple) * multiple)
    if target == n:
        return None
    live = alive.nonzero().squeeze(1)
    if target == n_live:
        return live
    return torch.cat([live, (~alive).nonzero().squeeze(1)[: target - n_live]])


class LogSoftmax:
    """Log-probabilities over the vocabulary in fp32, written into buffers kept across steps.

    A fresh (rows, vocab) fp32 result every step (beam 5 x 64 sentences x 8,000 pieces is
    10 MB, plus as much for the bf16 -> fp32 copy) made glibc map, unmap and page-fault that
    memory at every step; reusing two buffers sized for the first (largest) step avoids it.
    """

    def __init__(self) -> None:
        self.buffers: tuple[torch.Tensor, torch.Tensor] | None = None

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """logits (rows, vocab), any float dtype -> log-probabilities (rows, vocab) fp32,
        valid until the next call (which writes into the same buffer)."""
        rows, vocab = logits.shape
        if self.buffers is None or self.buffers[0].size(0) < rows or self.buffers[0].size(1) != vocab:
            self.buffers = tuple(torch.empty(rows, vocab, device=logits.device) for _ in range(2))
        as_fp32, out = (b[:rows] for b in self.buffers)
        if logits.dtype != torch.float32:
            logits = as_fp32.copy_(logits)
        return torch.log_softmax(logits, dim=-1, out=out)


@torch.no_grad()
def greedy_search(model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor,
                  max_len_a: float = 1.5, max_len_b: int = 10, sos_id: int = 2,
                  eos_id: int = 3, row_multiple: int = 1,
                  on_step: Callable[[], None] | None = None) -> list[Hypothesis]:
    """Pick the most probable token at every step. src (batch, src_len). `on_step`, when
    given, is called before every step (the server's heavy lane yields there).

    Finished sentences leave the batch; with `row_multiple` > 1 a few finished rows ride
    along (their output ignored) so the batch keeps a multiple of that many rows.
    """
    memory, state, _ = model.encode(src, src_lengths)
    batch, src_len = src.shape
    limits = max_lengths(src_lengths, max_len_a, max_len_b).to(src.device)  # (batch,)
    steps = int(limits.max())
    out = torch.full((batch, steps), eos_id, dtype=torch.long, device=src.device)
    attn = torch.zeros(batch, steps, src_len, device=src.device)
    scores = torch.zeros(batch, device=src.device)
    lengths = limits.clone()
    active = torch.arange(batch, device=src.device)  # sentence id of each row
    alive = torch.ones(batch, dtype=torch.bool, device=src.device)  # row still translating
    tokens = torch.full((batch,), sos_id, dtype=torch.long, device=src.device)
    log_softmax = LogSoftmax()
    for t in range(steps):
        if on_step is not None:
            on_step()
        logits, state, weights = model.decoder.step(tokens, state, memory)
        logp = log_softmax(logits)  # (rows, vocab) fp32
        best_lp, tokens = logp.max(dim=-1)  # (rows,)
        sid = active[alive]
        out[sid, t] = tokens[alive]
        scores[sid] += best_lp[alive]
        if weights is not None:
            attn[sid, t] = weights[alive].float()
        done = alive & ((tokens == eos_id) | (t + 1 >= limits[active]))
        if done.any():
            lengths[active[done]] = t + 1
            alive = alive & ~done
            if not alive.any():
                break
            keep = rows_to_keep(alive, row_multiple)
            if keep is not None:
                active, tokens, alive = active[keep], tokens[keep], alive[keep]
                state, memory = state.index_select(keep), memory.index_select(keep)
    has_attn = model.decoder.attention is not None
    out_l, len_l, src_l = out.tolist(), lengths.tolist(), src_lengths.tolist()
    return [
        Hypothesis(out_l[i][: len_l[i]], float(scores[i]),
                   attn[i, : len_l[i], : src_l[i]].cpu().numpy() if has_attn else None)
        for i in range(batch)
    ]


@torch.no_grad()
def beam_search(model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor, beam: int = 5,
                n_best: int = 1, alpha: float = 1.0, max_len_a: float = 1.5,
                max_len_b: int = 10, sos_id: int = 2, eos_id: int = 3,
                row_multiple: int = 1, trees: list[list[TreeNode]] | None = None,
                on_step: Callable[[], None] | None = None) -> list[list[Hypothesis]]:
    """Beam search; returns the `n_best` best hypotheses per sentence, best first.

    A hypothesis ending in EOS is finished when it ranks among the top `beam` candidates of
    its step; a sentence is done once it has `beam` finished hypotheses or hits its length
    limit (then its live hypotheses are finished as they are). With `trees` (one empty list
    per sentence) every step's 2 x beam best candidates are appended there as TreeNodes.
    `on_step`, when given, is called before every step.
    """
    memory, state, _ = model.encode(src, src_lengths)
    batch, src_len = src.shape
    device, k = src.device, beam
    expand = torch.arange(batch, device=device).repeat_interleave(k)
    state = state.index_select(expand)  # k hypothesis rows per sentence
    memory = memory.grouped(k)  # ... sharing one memory row (not copied k times)
    limits = max_lengths(src_lengths, max_len_a, max_len_b).tolist()
    sent = list(range(batch))  # original sentence id of each block of k rows
    alive = [True] * batch  # block still searching (dead blocks only pad the batch)
    scores = torch.full((batch, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # only one live hypothesis at the start
    tokens = torch.full((batch * k,), sos_id, dtype=torch.long, device=device)
    hist = torch.zeros(batch * k, 0, dtype=torch.long, device=device)
    hist_attn = torch.zeros(batch * k, 0, src_len, device=device)
    finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
    has_attn = model.decoder.attention is not None
    log_softmax = LogSoftmax()
    node_of_row = [0] * (batch * k)  # the tree node each hypothesis row stands at (0: <s>)

    def finish(row: int, token: int, total: float, sid: int, weights_row) -> None:
        seq = hist[row].tolist() + [token]
        att = None
        if has_attn:
            att = torch.cat([hist_attn[row], weights_row[None]], 0)[:, : int(src_lengths[sid])]
            att = att.cpu().numpy()
        finished[sid].append(Hypothesis(seq, total / length_penalty(len(seq), alpha), att))

    for t in range(max(limits)):
        if on_step is not None:
            on_step()
        live = len(sent)
        logits, state, weights = model.decoder.step(tokens, state, memory)
        n_cand = min(2 * k, logits.size(-1))
        logp = log_softmax(logits)  # (live * k, vocab) fp32
        # The sentence's 2k best continuations are among each hypothesis' own 2k best tokens.
        row_lp, row_tok = logp.topk(n_cand, dim=-1)  # (live * k, 2k)
        cand = (scores.unsqueeze(-1) + row_lp.view(live, k, n_cand)).view(live, k * n_cand)
        top_scores, top_ids = cand.topk(min(2 * k, k * n_cand), dim=-1)  # (live, 2k): >= k even
        # when the vocabulary is smaller than the beam
        origin = top_ids // n_cand + torch.arange(live, device=device)[:, None] * k  # flat rows
        token = row_tok.view(live, k * n_cand).gather(1, top_ids)
        is_eos = token == eos_id
        w = weights.float() if has_attn else None
        at_limit = [a and t + 1 >= limits[s] for s, a in zip(sent, alive)]
        # finish EOS candidates in the top k, or everything in the top k at the length limit
        rank_ok = torch.arange(top_ids.size(1), device=device)[None, :] < k
        limit_t = torch.tensor(at_limit, device=device)[:, None]
        to_finish = rank_ok & (is_eos | limit_t) & torch.isfinite(top_scores)
        ended = set()
        for b, j in to_finish.nonzero().tolist():
            sid = sent[b]
            if alive[b] and (len(finished[sid]) < k or at_limit[b]):
                row = int(origin[b, j])
                finish(row, int(token[b, j]), float(top_scores[b, j]), sid,
                       w[row] if w is not None else None)
                ended.add((b, j))
        # the k best non-EOS candidates continue
        cont_scores, pick = top_scores.masked_fill(is_eos, float("-inf")).topk(k, dim=-1)
        if trees is not None:
            node_of_row = _grow_trees(trees, t, sent, alive, at_limit, top_scores, origin, token, pick,
                                      ended, node_of_row, w, src_lengths, k, eos_id,
                                      [len(finished[sid]) >= k for sid in sent])
        rows = origin.gather(1, pick).view(-1)
        tokens = token.gather(1, pick).view(-1)
        hist = torch.cat([hist[rows], tokens[:, None]], dim=1)
        if has_attn:
            hist_attn = torch.cat([hist_attn[rows], w[rows].unsqueeze(1)], dim=1)
        # rows stay inside their sentence's block, so the memory needs no reordering
        state, scores = state.index_select(rows), cont_scores
        done = [a and (lim or len(finished[s]) >= k) for a, lim, s in zip(alive, at_limit, sent)]
        if not any(done):
            continue
        alive = [a and not d for a, d in zip(alive, done)]
        if not any(alive):
            break
        keep_bt = rows_to_keep(torch.tensor(alive), row_multiple)
        if keep_bt is not None:
            keep_b = keep_bt.tolist()
            keep_bt = keep_bt.to(device)
            keep_rows = torch.tensor([b * k + i for b in keep_b for i in range(k)], device=device)
            sent, alive = [sent[b] for b in keep_b], [alive[b] for b in keep_b]
            scores = scores.index_select(0, keep_bt)
            tokens, hist = tokens[keep_rows], hist[keep_rows]
            node_of_row = [node_of_row[r] for r in keep_rows.tolist()]
            hist_attn = hist_attn[keep_rows] if has_attn else hist_attn
            state, memory = state.index_select(keep_rows), memory.index_select(keep_bt)
    results = []
    for hyps in finished:
        hyps.sort(key=lambda h: h.score, reverse=True)
        results.append(hyps[:n_best])
    return results


def _grow_trees(trees, t, sent, alive, at_limit, top_scores, origin, token, pick, ended,
                node_of_row, w, src_lengths, k, eos_id, full) -> list[int]:
    """Record step `t`'s candidates in `trees`; returns the node of each continuing row. A
    candidate is 'kept' only if its sentence goes on (not `full` of finished ones, not at its
    length limit)."""
    scores, origins, tokens = top_scores.tolist(), origin.tolist(), token.tolist()
    picks = pick.tolist()
    new_rows = [0] * (len(sent) * k)
    for b, sid in enumerate(sent):
        if not alive[b]:
            continue
        tree, ids = trees[sid], {}
        for j, score in enumerate(scores[b]):
            if not np.isfinite(score):
                continue
            row = origins[b][j]
            status = "finished" if (b, j) in ended else "pruned"
            if j in picks[b] and tokens[b][j] != eos_id and not (at_limit[b] or full[b]):
                status = "kept"
            weights = None if w is None else w[row, : int(src_lengths[sid])].cpu().numpy()
            ids[j] = len(tree) + 1  # (node 0 is the start)
            tree.append(TreeNode(ids[j], node_of_row[row], t, tokens[b][j], score, status, weights))
        for i, j in enumerate(picks[b]):
            new_rows[b * k + i] = ids.get(j, 0)
    return new_rows


@torch.no_grad()
def forced_scores(model: Seq2Seq, src: torch.Tensor, src_lengths: torch.Tensor,
                  targets: list[list[int]], sos_id: int = 2, eos_id: int = 3) -> list[Forced]:
    """Feed each target (EOS appended) through the decoder as the searches do, one step at a
    time, and read off the log-probability of each of its tokens. src (batch, src_len)."""
    memory, state, _ = model.encode(src, src_lengths)
    batch, src_len = src.shape
    seqs = [list(t) + [eos_id] for t in targets]
    steps = max(len(s) for s in seqs)
    padded = torch.tensor([s + [eos_id] * (steps - len(s)) for s in seqs], device=src.device)
    logps = torch.zeros(batch, steps, device=src.device)
    attn = torch.zeros(batch, steps, src_len, device=src.device)
    tokens = torch.full((batch,), sos_id, dtype=torch.long, device=src.device)
    log_softmax = LogSoftmax()
    for t in range(steps):
        logits, state, weights = model.decoder.step(tokens, state, memory)
        tokens = padded[:, t]
        logps[:, t] = log_softmax(logits).gather(1, tokens[:, None])[:, 0]
        if weights is not None:
            attn[:, t] = weights.float()
    has_attn = model.decoder.attention is not None
    lengths = src_lengths.tolist()
    return [Forced(s, logps[i, : len(s)].tolist(),
                   attn[i, : len(s), : lengths[i]].cpu().numpy() if has_attn else None)
            for i, s in enumerate(seqs)]
