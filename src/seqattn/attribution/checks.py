"""What an attribution request may ask for, refused in one line when it cannot be served."""

from __future__ import annotations

from collections.abc import Sequence

from seqattn.choices import ATTRIBUTION_METHODS, ATTRIBUTION_SUMMARIES
from seqattn.errors import SeqattnError
from seqattn.limits import MAX_OUTPUT_TOKENS, MAX_SOURCE_TOKENS

METHODS = ATTRIBUTION_METHODS
SUMMARIES = ATTRIBUTION_SUMMARIES  # one line per method
MAX_STEPS = 1000  # integrated gradients' interpolation steps


class AttributionError(SeqattnError):
    """An attribution that cannot be computed as asked (method, steps, model, text)."""


def check_method(method: str) -> None:
    if method not in METHODS:
        raise AttributionError(f"unknown attribution method {method!r} (choose from {', '.join(METHODS)})")


def check_steps(steps: int) -> None:
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise AttributionError(f"steps must be a whole number between 1 and {MAX_STEPS} (got {steps!r})")


def check_ids(src_ids: Sequence[int], tgt_ids: Sequence[int], contrast_ids: Sequence[int] | None,
              src_vocab: int, tgt_vocab: int) -> None:
    """Refuse an empty source, ids outside the vocabularies, and lengths past the limits."""
    if not len(src_ids):
        raise AttributionError("the source is empty: give a sentence to attribute")
    sides = [("source", src_ids, src_vocab, MAX_SOURCE_TOKENS), ("output", tgt_ids, tgt_vocab,
                                                                  MAX_OUTPUT_TOKENS - 1)]
    if contrast_ids is not None:
        sides.append(("contrast", contrast_ids, tgt_vocab, MAX_OUTPUT_TOKENS - 1))
    for what, ids, vocab, most in sides:
        if len(ids) > most:
            raise AttributionError(f"the {what} is {len(ids):,} subwords (at most {most:,})")
        bad = [int(i) for i in ids if not 0 <= int(i) < vocab]
        if bad:
            raise AttributionError(f"the {what} has id {bad[0]}, outside the model's vocabulary of {vocab:,}")
