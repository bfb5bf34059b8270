"""Greedy search: the most probable token at every step, for a whole batch at once. Its walk
(one output per row, a token chosen per row and step) also serves sampling (`search.sampling`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from seqattn.data.subword import EOS_ID, SOS_ID
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search.hypotheses import Hypothesis
from seqattn.search.observers import Observer
from seqattn.search.prefix import as_prefixes
from seqattn.search.rows import LogSoftmax, max_lengths, rows_to_keep
from seqattn.search.stepper import Stepper, as_stepper


@dataclass(kw_only=True)
class Search:
    """What every search shares: the output-length limit a * source length + b (see
    `seqattn.limits`), the special ids, the batch's row multiple and the observers.

    With `row_multiple` > 1, a few finished rows ride along (their output ignored) so the
    batch keeps a multiple of that many rows (see `rows.rows_to_keep`).
    """

    max_len_a: float = 1.5
    max_len_b: int = 10
    sos_id: int = SOS_ID
    eos_id: int = EOS_ID
    row_multiple: int = 1
    observers: Sequence[Observer] = field(default_factory=tuple)

    def _step_starts(self, t: int) -> None:
        for o in self.observers:
            o.step_starts(t)


Choose = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def most_probable(logp: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """logp (rows, vocab) -> the most probable token of each row and its log-probability."""
    best_lp, tokens = logp.max(dim=-1)
    return best_lp, tokens


@dataclass(kw_only=True)
class GreedySearch(Search):
    @torch.no_grad()
    def run(self, model: Seq2Seq | Stepper, src: torch.Tensor, src_lengths: torch.Tensor,
            prefixes: Sequence[Sequence[int]] | None = None) -> list[Hypothesis]:
        """src (batch, src_len), src_lengths (batch,) -> one hypothesis per sentence, starting
        with its `prefixes` entry when given (`search.prefix`). Finished sentences leave the batch."""
        return [found[0] for found in self._walk(model, src, src_lengths, prefixes, 1, most_probable)]

    def _walk(self, model: Seq2Seq | Stepper, src: torch.Tensor, src_lengths: torch.Tensor,
              prefixes: Sequence[Sequence[int]] | None, copies: int, choose: Choose
              ) -> list[list[Hypothesis]]:
        """`copies` outputs per sentence, one per row (row r: sentence r // copies), each step's
        token picked by `choose(logp, rows)` (logp (live, vocab), rows (live,) the flat row of
        each) -> (log-probability, token), each (live,)."""
        model = as_stepper(model)
        batch, src_len = src.shape
        device, eos_id, n = src.device, self.eos_id, batch * copies
        forced = as_prefixes(prefixes, batch, device)
        memory, state = model.encode(src, src_lengths)
        sentence = torch.arange(batch, device=device).repeat_interleave(copies)  # (n,) of each row
        if copies > 1:
            memory, state = memory.index_select(sentence), state.index_select(sentence)
        limits = max_lengths(src_lengths, self.max_len_a, self.max_len_b).to(device)[sentence]  # (n,)
        steps = int(limits.max())
        out = torch.full((n, steps), eos_id, dtype=torch.long, device=device)
        attn = torch.zeros(n, steps, src_len, device=device)
        scores = torch.zeros(n, device=device)
        lengths = limits.clone()
        active = torch.arange(n, device=device)  # the flat row (output) each batch row computes
        alive = torch.ones(n, dtype=torch.bool, device=device)  # row still translating
        tokens = torch.full((n,), self.sos_id, dtype=torch.long, device=device)
        log_softmax = LogSoftmax()
        for o in self.observers:
            o.search_starts(n)
        for t in range(steps):
            self._step_starts(t)
            logits, state, weights = model.step(tokens, state, memory)
            logp = log_softmax(logits)  # (rows, vocab) fp32
            if forced is not None and t < forced.longest:
                logp = forced.force(logp, t, sentence[active])
            best_lp, tokens = choose(logp, active)  # (rows,)
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
                keep = rows_to_keep(alive, self.row_multiple)
                if keep is not None:
                    active, tokens, alive = active[keep], tokens[keep], alive[keep]
                    state, memory = state.index_select(keep), memory.index_select(keep)
        out_l, len_l, src_l = out.tolist(), lengths.tolist(), src_lengths.tolist()
        keep_attn = model.has_attention
        found = [Hypothesis(out_l[r][: len_l[r]], float(scores[r]),
                            attn[r, : len_l[r], : src_l[r // copies]].cpu().numpy() if keep_attn else None)
                 for r in range(n)]
        return [found[s * copies : (s + 1) * copies] for s in range(batch)]
