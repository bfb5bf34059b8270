"""Beam search, batched across sentences: k hypotheses per sentence advance in one RNN call.

Each step every hypothesis proposes its own 2k best tokens; of a sentence's k x 2k
proposals the 2k best are ranked. A proposal ending in EOS is finished when it ranks among
the top k; the k best others continue. A sentence is done once it has k finished hypotheses
or reaches its length limit (then its top k are finished as they are); done sentences leave
the batch. Finished scores are length-normalised (`length_penalty`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqattn.model.seq2seq import Seq2Seq
from seqattn.search.greedy import Search
from seqattn.search.hypotheses import Hypothesis, length_penalty
from seqattn.search.observers import BeamStep
from seqattn.search.prefix import as_prefixes
from seqattn.search.rows import LogSoftmax, max_lengths, rows_to_keep
from seqattn.search.stepper import Stepper, as_stepper


@dataclass
class _Beams:
    """The search's state between steps. Rows are hypotheses, k per block; a block is one
    sentence (dead blocks only pad the batch)."""

    sent: list[int]  # the sentence of each block
    alive: list[bool]  # block still searching
    scores: torch.Tensor  # (blocks, k) cumulative log-probability of each row
    tokens: torch.Tensor  # (blocks * k,) each row's last token
    hist: torch.Tensor  # (blocks * k, t) each row's tokens so far
    hist_attn: torch.Tensor  # (blocks * k, t, src_len) its attention so far
    state: object  # the decoder state of every row
    memory: object  # one row per block, shared by its k rows


@dataclass(kw_only=True)
class BeamSearch(Search):
    beam: int = 5
    n_best: int = 1  # hypotheses returned per sentence, best first
    alpha: float = 1.0  # length penalty exponent; 0 ranks by raw log-probability

    @torch.no_grad()
    def run(self, model: Seq2Seq | Stepper, src: torch.Tensor, src_lengths: torch.Tensor,
            prefixes: Sequence[Sequence[int]] | None = None) -> list[list[Hypothesis]]:
        """src (batch, src_len), src_lengths (batch,) -> the `n_best` best hypotheses per
        sentence, best first, each starting with the sentence's `prefixes` entry when given."""
        model = as_stepper(model)
        forced = as_prefixes(prefixes, src.size(0), src.device)
        memory, state = model.encode(src, src_lengths)
        batch, src_len = src.shape
        device, k = src.device, self.beam
        expand = torch.arange(batch, device=device).repeat_interleave(k)
        scores = torch.full((batch, k), float("-inf"), device=device)
        scores[:, 0] = 0.0  # only one live hypothesis at the start
        beams = _Beams(
            sent=list(range(batch)), alive=[True] * batch, scores=scores,
            tokens=torch.full((batch * k,), self.sos_id, dtype=torch.long, device=device),
            hist=torch.zeros(batch * k, 0, dtype=torch.long, device=device),
            hist_attn=torch.zeros(batch * k, 0, src_len, device=device),
            state=state.index_select(expand),  # k hypothesis rows per sentence
            memory=memory.grouped(k))  # ... sharing one memory row (not copied k times)
        limits = max_lengths(src_lengths, self.max_len_a, self.max_len_b).tolist()
        finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
        log_softmax = LogSoftmax()
        for o in self.observers:
            o.search_starts(batch * k)
        for t in range(max(limits)):
            self._step_starts(t)
            logits, beams.state, weights = model.step(beams.tokens, beams.state, beams.memory)
            w = weights.float() if model.has_attention else None
            logp = log_softmax(logits)  # (rows, vocab) fp32
            if forced is not None and t < forced.longest:
                sentence = torch.tensor(beams.sent, device=device).repeat_interleave(k)
                logp = forced.force(logp, t, sentence)
            step = self._rank(t, beams, logp, w, limits, src_lengths, finished)
            for o in self.observers:
                o.candidates(step)
            self._advance(beams, step)
            if self._drop_done(beams, step, finished) == "all done":
                break
        return [sorted(hyps, key=lambda h: h.score, reverse=True)[: self.n_best] for hyps in finished]

    def _rank(self, t: int, beams: _Beams, logp: torch.Tensor, w: torch.Tensor | None,
              limits: list[int], src_lengths: torch.Tensor, finished: list[list[Hypothesis]]) -> BeamStep:
        """Rank step t's candidates (logp: (rows, vocab) fp32) and finish those that end."""
        k, live, device = self.beam, len(beams.sent), logp.device
        n_cand = min(2 * k, logp.size(-1))
        # The sentence's 2k best continuations are among each hypothesis' own 2k best tokens.
        row_lp, row_tok = logp.topk(n_cand, dim=-1)  # (live * k, 2k)
        cand = (beams.scores.unsqueeze(-1) + row_lp.view(live, k, n_cand)).view(live, k * n_cand)
        top_scores, top_ids = cand.topk(min(2 * k, k * n_cand), dim=-1)  # (live, 2k): >= k even
        # when the vocabulary is smaller than the beam
        origin = top_ids // n_cand + torch.arange(live, device=device)[:, None] * k  # flat rows
        token = row_tok.view(live, k * n_cand).gather(1, top_ids)
        is_eos = token == self.eos_id
        at_limit = [a and t + 1 >= limits[s] for s, a in zip(beams.sent, beams.alive)]
        # finish EOS candidates in the top k, or everything in the top k at the length limit
        rank_ok = torch.arange(top_ids.size(1), device=device)[None, :] < k
        limit_t = torch.tensor(at_limit, device=device)[:, None]
        to_finish = rank_ok & (is_eos | limit_t) & torch.isfinite(top_scores)
        ended = set()
        for b, j in to_finish.nonzero().tolist():
            sid = beams.sent[b]
            if beams.alive[b] and (len(finished[sid]) < k or at_limit[b]):
                row = int(origin[b, j])
                seq = beams.hist[row].tolist() + [int(token[b, j])]
                att = None
                if w is not None:
                    att = torch.cat([beams.hist_attn[row], w[row][None]], 0)[:, : int(src_lengths[sid])]
                    att = att.cpu().numpy()
                score = float(top_scores[b, j]) / length_penalty(len(seq), self.alpha)
                finished[sid].append(Hypothesis(seq, score, att))
                ended.add((b, j))
        # the k best non-EOS candidates continue
        cont_scores, pick = top_scores.masked_fill(is_eos, float("-inf")).topk(k, dim=-1)
        beams.scores = cont_scores
        return BeamStep(t, beams.sent, beams.alive, at_limit, [len(finished[s]) >= k for s in beams.sent],
                        top_scores, origin, token, pick, ended, w, src_lengths, k, self.eos_id)

    def _advance(self, beams: _Beams, step: BeamStep) -> None:
        """Move every row to the candidate it continues as."""
        rows = step.origin.gather(1, step.pick).view(-1)
        beams.tokens = step.token.gather(1, step.pick).view(-1)
        beams.hist = torch.cat([beams.hist[rows], beams.tokens[:, None]], dim=1)
        if step.weights is not None:
            beams.hist_attn = torch.cat([beams.hist_attn[rows], step.weights[rows].unsqueeze(1)], dim=1)
        # rows stay inside their sentence's block, so the memory needs no reordering
        beams.state = beams.state.index_select(rows)

    def _drop_done(self, beams: _Beams, step: BeamStep, finished: list[list[Hypothesis]]) -> str:
        """Mark sentences done; drop their blocks from the batch (up to the row multiple)."""
        k = self.beam
        done = [a and (lim or len(finished[s]) >= k)
                for a, lim, s in zip(beams.alive, step.at_limit, beams.sent)]
        if not any(done):
            return "going"
        beams.alive = [a and not d for a, d in zip(beams.alive, done)]
        if not any(beams.alive):
            return "all done"
        keep_bt = rows_to_keep(torch.tensor(beams.alive), self.row_multiple)
        if keep_bt is None:
            return "going"
        device = beams.tokens.device
        keep_b = keep_bt.tolist()
        keep_bt = keep_bt.to(device)
        keep_rows = torch.tensor([b * k + i for b in keep_b for i in range(k)], device=device)
        beams.sent, beams.alive = [beams.sent[b] for b in keep_b], [beams.alive[b] for b in keep_b]
        beams.scores = beams.scores.index_select(0, keep_bt)
        beams.tokens, beams.hist = beams.tokens[keep_rows], beams.hist[keep_rows]
        if step.weights is not None:
            beams.hist_attn = beams.hist_attn[keep_rows]
        beams.state, beams.memory = beams.state.index_select(keep_rows), beams.memory.index_select(keep_bt)
        for o in self.observers:
            o.rows_kept(keep_rows.tolist())
        return "going"
