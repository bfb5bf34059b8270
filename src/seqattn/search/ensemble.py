"""Several models as one Stepper: each step, the members' next-token distributions combined.

Every search (greedy, beam, sampling, forced scores) runs over an `EnsembleStepper` as over
one model. Members may differ in architecture (score function, layers, GRU or LSTM, input
feeding); they must share their vocabularies (checked where runs are loaded, in
`seqattn.ensemble`). Per step, with k members and member i's log-probabilities log p_i:

- `mean_logprob` (the default): (1/k) sum_i log p_i, renormalised by the search's log-softmax:
  a normalised geometric mean, so a token any member finds unlikely stays unlikely;
- `mean_prob`: log((1/k) sum_i p_i): the mixture, so one confident member carries a token.

The attention an ensemble reports is the mean of its members' weights (members without
attention left out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqattn.choices import DEFAULT_ENSEMBLE_RULE, ENSEMBLE_RULES, spoken
from seqattn.errors import SeqattnError
from seqattn.search.stepper import Stepper


@dataclass
class MemberRows:
    """Per-row state of each member (decoder states, or memories), selected together."""

    parts: list

    def index_select(self, index: torch.Tensor) -> MemberRows:
        return MemberRows([p.index_select(index) for p in self.parts])

    def grouped(self, group: int) -> MemberRows:
        return MemberRows([p.grouped(group) for p in self.parts])


def combine(logps: Sequence[torch.Tensor], rule: str) -> torch.Tensor:
    """Members' log-probabilities, each (rows, vocab) fp32 -> the ensemble's (rows, vocab)
    log-scores (for `mean_logprob` not yet normalised: every search takes a log-softmax)."""
    stacked = torch.stack(list(logps))  # (members, rows, vocab)
    if rule == "mean_logprob":
        return stacked.mean(0)
    if rule == "mean_prob":
        return torch.logsumexp(stacked, 0) - torch.log(torch.tensor(float(len(logps))))
    raise SeqattnError(f"unknown ensemble rule '{rule}' (use {spoken(ENSEMBLE_RULES)})")


class EnsembleStepper:
    """Member Steppers as one: `encode` runs every encoder, `step` every decoder, and returns
    the combined log-scores (as logits), the state of each member and the mean attention."""

    def __init__(self, members: Sequence[Stepper], rule: str = DEFAULT_ENSEMBLE_RULE):
        if not members:
            raise SeqattnError("an ensemble needs at least one model")
        if rule not in ENSEMBLE_RULES:
            raise SeqattnError(f"unknown ensemble rule '{rule}' (use {spoken(ENSEMBLE_RULES)})")
        self.members, self.rule = list(members), rule
        self.has_attention = any(m.has_attention for m in self.members)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[MemberRows, MemberRows]:
        """src (batch, src_len), src_lengths (batch,) -> every member's memory and initial state."""
        found = [m.encode(src, src_lengths) for m in self.members]
        return MemberRows([mem for mem, _ in found]), MemberRows([state for _, state in found])

    def step(self, tokens: torch.Tensor, state: MemberRows, memory: MemberRows
             ) -> tuple[torch.Tensor, MemberRows, torch.Tensor | None]:
        """tokens (rows,) -> combined log-scores (rows, vocab) fp32, the new states, and the
        members' mean weights (rows, src_len) or None."""
        logps, states, weights = [], [], []
        for member, s, mem in zip(self.members, state.parts, memory.parts):
            logits, s, w = member.step(tokens, s, mem)
            logps.append(torch.log_softmax(logits.float(), dim=-1))
            states.append(s)
            if w is not None:
                weights.append(w.float())
        mean_weights = torch.stack(weights).mean(0) if weights else None
        return combine(logps, self.rule), MemberRows(states), mean_weights
