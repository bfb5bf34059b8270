"""A forced prefix: the first tokens of each sentence's output are given, and search continues
from there.

While a row is inside its sentence's prefix, every token but the given one gets log-probability
-inf: greedy search then takes it, and beam search keeps one hypothesis (the prefix) as it
does at the start, so each search continues from the prefix with its own rules. The prefix's
tokens keep the model's own log-probabilities, which count in the hypothesis' score.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class Prefixes:
    """Each sentence's forced prefix (token ids, no specials; empty for none)."""

    def __init__(self, prefixes: Sequence[Sequence[int]], device: torch.device):
        self.lengths = torch.tensor([len(p) for p in prefixes], dtype=torch.long, device=device)  # (batch,)
        self.longest = int(self.lengths.max()) if len(prefixes) else 0
        self.tokens = torch.zeros(len(prefixes), max(self.longest, 1), dtype=torch.long, device=device)
        for i, p in enumerate(prefixes):
            self.tokens[i, : len(p)] = torch.as_tensor(list(p), dtype=torch.long)

    def force(self, logp: torch.Tensor, t: int, sentence: torch.Tensor) -> torch.Tensor:
        """logp (rows, vocab) of step t, sentence (rows,) the sentence of each row -> logp with
        every row still inside its prefix allowed only its prefix token (others -inf)."""
        if t >= self.longest:
            return logp
        inside = self.lengths[sentence] > t  # (rows,)
        if not bool(inside.any()):
            return logp
        token = self.tokens[sentence, t][:, None]  # (rows, 1)
        only = torch.full_like(logp, float("-inf")).scatter_(1, token, logp.gather(1, token))
        return torch.where(inside[:, None], only, logp)


def as_prefixes(prefixes: Sequence[Sequence[int]] | None, batch: int, device: torch.device
                ) -> Prefixes | None:
    """`Prefixes` for a batch, or None when no sentence has one."""
    if prefixes is None or not any(len(p) for p in prefixes):
        return None
    if len(prefixes) != batch:
        raise ValueError(f"{len(prefixes)} prefixes for a batch of {batch} sentences")
    return Prefixes(prefixes, device)
