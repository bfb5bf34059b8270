"""Corpus scores of system outputs against one or more references per source.

    bleu, chrf   sacreBLEU on detokenized text (higher is better)
    wer          word error rate for letter-level tasks: the share of sources whose output
                 equals none of their references, whole sequence against whole sequence
    per          phoneme (symbol) error rate: edit distance over space-separated symbols to the
                 closest reference, summed, over the summed lengths of those references
    cer          character error rate: the same over characters

All are percentages. Edit distances come from rapidfuzz (Levenshtein: insertions, deletions
and substitutions cost 1). Among equally close references the shortest is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rapidfuzz.distance import Levenshtein
from sacrebleu.metrics import BLEU, CHRF

LOWER_IS_BETTER = frozenset({"wer", "per", "cer", "loss"})
METRICS = ("bleu", "chrf", "wer", "per", "cer")
LABELS = {"bleu": "BLEU", "chrf": "chrF", "wer": "WER", "per": "PER", "cer": "CER"}


@dataclass
class Scores:
    """Scores of one decoded set; `values` maps a metric name to its percentage."""

    values: dict[str, float]
    signatures: dict[str, str] = field(default_factory=dict)
    loss: float | None = None  # NLL per target token (EOS included)
    ppl: float | None = None
    sentences: int = 0
    unit: str = "sentences"  # what `sentences` counts: "sources" when references are grouped

    @property
    def bleu(self) -> float | None:
        return self.values.get("bleu")

    @property
    def chrf(self) -> float | None:
        return self.values.get("chrf")

    def get(self, metric: str) -> float | None:
        return self.loss if metric == "loss" else self.values.get(metric)

    def line(self) -> str:
        parts = [f"{LABELS[m]} {v:.2f}" for m, v in self.values.items()]
        if self.ppl is not None:
            parts.append(f"ppl {self.ppl:.2f}")
        return "  ".join(parts) + f"  ({self.sentences} {self.unit})"

    def as_dict(self) -> dict[str, float | int | None]:
        return {**self.values, "loss": self.loss, "ppl": self.ppl, "sentences": self.sentences}


def group_references(sources: Sequence[str], references: Sequence[str]
                     ) -> tuple[list[str], list[list[str]]]:
    """Lines with the same source become one source with all their references, in order of
    first appearance (e.g. a dictionary's alternative pronunciations)."""
    refs: dict[str, list[str]] = {}
    for s, r in zip(sources, references):
        refs.setdefault(s, []).append(r)
    return list(refs), list(refs.values())


def _closest(hyp: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[int, int]:
    """(edit distance, reference length) to the closest reference, the shortest among ties."""
    return min((Levenshtein.distance(hyp, r), len(r)) for r in refs)


def edit_rate(hypotheses: Sequence[str], references: Sequence[Sequence[str]], unit: str) -> float:
    """PER (`unit` 'symbol') or CER (`unit` 'char') in percent, against the closest reference."""
    split = str.split if unit == "symbol" else list
    errors = length = 0
    for hyp, refs in zip(hypotheses, references):
        e, n = _closest(split(hyp), [split(r) for r in refs])
        errors, length = errors + e, length + n
    return 100.0 * errors / max(length, 1)


def sequence_error_rate(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> float:
    """WER in the letter-level sense: percent of outputs equal to none of their references
    (compared as symbol sequences, so spacing does not matter)."""
    wrong = sum(hyp.split() not in [r.split() for r in refs] for hyp, refs in zip(hypotheses, references))
    return 100.0 * wrong / max(len(hypotheses), 1)


def score_texts(hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]],
                metrics: Sequence[str] = ("bleu", "chrf")) -> Scores:
    """Scores of `hypotheses`, each against one reference (a str) or several (a list)."""
    refs = [[r] if isinstance(r, str) else list(r) for r in references]
    if len(refs) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} outputs but {len(refs)} references")
    values, signatures = {}, {}
    for m in metrics:
        if m in ("bleu", "chrf"):
            scorer = BLEU() if m == "bleu" else CHRF()
            width = max((len(r) for r in refs), default=1)
            streams = [[r[k] if k < len(r) else None for r in refs] for k in range(width)]
            values[m] = scorer.corpus_score(list(hypotheses), streams).score
            signatures[m] = str(scorer.get_signature())
        elif m == "wer":
            values[m] = sequence_error_rate(hypotheses, refs)
        elif m in ("per", "cer"):
            values[m] = edit_rate(hypotheses, refs, "symbol" if m == "per" else "char")
        else:
            raise ValueError(f"unknown metric {m!r} (known: {', '.join(METRICS)})")
    grouped = any(len(r) > 1 for r in refs)
    return Scores(values, signatures, sentences=len(hypotheses), unit="sources" if grouped else "sentences")


def signed(metric: str, value: float) -> float:
    """`value` turned so that higher is better (error rates and loss negated), for early stopping."""
    return -value if metric in LOWER_IS_BETTER else value
