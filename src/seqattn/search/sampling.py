"""Sampling: outputs drawn token by token from the model's distribution, batched across
sentences and samples.

Each step, each row's next token is drawn from softmax(log p / temperature), cut to the
`top_k` most probable tokens and to the fewest most probable whose probability reaches
`top_p` (nucleus sampling), renormalised. A draw is the inverse of the cumulative
distribution (tokens sorted by probability, ties by id) at one uniform number from the
row's own generator, seeded from its sentence's seed and its sample number, so a sentence
draws the same samples alone or in any batch. A sample's score is its log-probability under
the model itself (temperature 1, nothing cut): with `top_k=1` sampling is greedy search.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from seqattn.model.seq2seq import Seq2Seq
from seqattn.search.greedy import GreedySearch
from seqattn.search.hypotheses import Hypothesis
from seqattn.search.stepper import Stepper


def sentence_seed(seed: int, index: int) -> int:
    """A 63-bit seed for item `index` under `seed` (a sentence of a request, a sample of a
    sentence): the same pair always gives the same seed, different pairs unrelated ones."""
    digest = hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def draw_tokens(logp: torch.Tensor, uniform: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                top_p: float = 1.0) -> torch.Tensor:
    """logp (rows, vocab) fp32, uniform (rows,) in [0, 1) -> (rows,) tokens drawn from
    softmax(logp / temperature) cut to `top_k` (0: no cut) and `top_p` (1: no cut)."""
    probs = torch.softmax(logp / temperature, dim=-1)
    sorted_p, order = probs.sort(dim=-1, descending=True, stable=True)  # (rows, vocab)
    keep = torch.ones_like(sorted_p, dtype=torch.bool)
    if top_k:
        keep[:, top_k:] = False
    if top_p < 1.0:  # every token before the running total reaches top_p (the first always)
        keep &= (sorted_p.cumsum(-1) - sorted_p) < top_p
    cum = (sorted_p * keep).cumsum(-1)
    below = (cum <= (uniform * cum[:, -1])[:, None]).sum(-1)  # the first position past the draw
    index = torch.minimum(below, keep.sum(-1) - 1)
    return order.gather(1, index[:, None])[:, 0]


@dataclass(kw_only=True)
class SampleSearch(GreedySearch):
    samples: int = 1  # outputs drawn per sentence
    temperature: float = 1.0
    top_k: int = 0  # 0: no cut
    top_p: float = 1.0  # 1: no cut

    @torch.no_grad()
    def run(self, model: Seq2Seq | Stepper, src: torch.Tensor, src_lengths: torch.Tensor,  # type: ignore[override]
            prefixes: Sequence[Sequence[int]] | None = None, seeds: Sequence[int] | None = None
            ) -> list[list[Hypothesis]]:
        """src (batch, src_len), src_lengths (batch,) -> `samples` hypotheses per sentence, in
        the order drawn; `seeds` gives each sentence's seed (default: its position)."""
        seeds = list(range(src.size(0))) if seeds is None else list(seeds)
        if len(seeds) != src.size(0):
            raise ValueError(f"{len(seeds)} seeds for a batch of {src.size(0)} sentences")
        generators = [torch.Generator().manual_seed(sentence_seed(seed, j))
                      for seed in seeds for j in range(self.samples)]

        def draw(logp: torch.Tensor, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            uniform = torch.tensor([float(torch.rand((), generator=generators[r])) for r in rows.tolist()],
                                   device=logp.device)
            tokens = draw_tokens(logp, uniform, self.temperature, self.top_k, self.top_p)
            return logp.gather(1, tokens[:, None])[:, 0], tokens

        return self._walk(model, src, src_lengths, prefixes, self.samples, draw)
