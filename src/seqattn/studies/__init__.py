"""Recipes that turn the story's claims into measurements (train + translator + viz).

  bottleneck  the fixed-size context vector hurts long inputs; attention fixes it
  reverse     reading the source backwards helps a model without attention a little
  scores      dot / general / additive / scaled_dot (and none) on equal budgets
  gradient    attention gives gradients a short path to every source word
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from seqattn.studies import comparisons, gradient

STUDIES = {
    "bottleneck": partial(comparisons.run, "bottleneck"),
    "reverse": partial(comparisons.run, "reverse"),
    "scores": partial(comparisons.run, "scores"),
    "gradient": gradient.run,
}


def run_study(name: str, out: str | Path, quick: bool = False, data: str | None = None,
              seeds: int | None = None, minutes: float = 22.0) -> dict:
    """Run study `name`, writing PNG + CSV + summary.md into `out`; returns its key numbers."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return STUDIES[name](out=out, quick=quick, data=data, seeds=seeds, minutes=minutes)
