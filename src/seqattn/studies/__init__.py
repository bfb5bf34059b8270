"""Recipes that turn the story's claims into measurements (train + translator + viz).

  bottleneck    the fixed-size context vector hurts long inputs; attention fixes it
  reverse       reading the source backwards helps a model without attention a little
  scores        dot / general / additive / scaled_dot (and none) on equal budgets
  gradient      attention gives gradients a short path to every source word
  faithfulness  is attention an explanation? agreement with attributions, alignment, counterfactuals
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from seqattn.studies import comparisons, faithfulness, gradient

STUDIES = {
    "bottleneck": partial(comparisons.run, "bottleneck"),
    "reverse": partial(comparisons.run, "reverse"),
    "scores": partial(comparisons.run, "scores"),
    "gradient": gradient.run,
    "faithfulness": faithfulness.run,
}


MINUTES = {"faithfulness": 12.0}  # Multi30k training minutes when not given (else 22): its arms are
# also attributed, sentence by sentence, within the same 30 minutes


def run_study(name: str, out: str | Path, quick: bool = False, data: str | None = None,
              seeds: int | None = None, minutes: float | None = None) -> dict:
    """Run study `name`, writing PNG + CSV + summary.md into `out`; returns its key numbers."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    minutes = MINUTES.get(name, 22.0) if minutes is None else minutes
    return STUDIES[name](out=out, quick=quick, data=data, seeds=seeds, minutes=minutes)
