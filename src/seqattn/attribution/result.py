"""What an attribution returns: the scores with their tokens and settings, rolled up to words on
request, as JSON and in notebooks."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

SP = "\u2581"  # SentencePiece's word-start mark


def _special(token: str) -> bool:
    """<s>, </s>, <unk> and the like (the page's `isSpecial`)."""
    return re.fullmatch(r"<[^<>\s]+>", token) is not None


def word_units(tokens: Sequence[str]) -> list[tuple[str, list[int]]]:
    """Tokens grouped into whole words as the page groups them (`static/tokens.js` `units`): a
    piece starting with ▁, a special token, or the piece after a special one starts a word; the
    rest continue it. Tokens without any ▁ (character or symbol vocabularies) stay one per unit.
    Returns (label, piece indices) per unit."""
    marked = any(t.startswith(SP) for t in tokens)
    units: list[tuple[str, list[int]]] = []
    for k, t in enumerate(tokens):
        starts = (not marked or _special(t) or t.startswith(SP) or not units or _special(tokens[k - 1]))
        text = t.replace(SP, " ").strip()
        if starts:
            units.append((text, [k]))
        else:
            label, pieces = units[-1]
            units[-1] = (label + text, pieces + [k])
    return [(label or "␣", pieces) for label, pieces in units]


@dataclass
class Attribution:
    """How much each source token matters to each output token, by one method.

    scores (len(tgt_tokens), len(src_tokens)): rows are the output tokens then </s>, columns
    the source tokens then </s>, as the attention matrix of the same forced pass.
    """

    method: str
    src_tokens: list[str]
    tgt_tokens: list[str]
    scores: np.ndarray
    contrast_tokens: list[str] | None = None  # the contrast's tokens and </s>; None: not contrastive
    settings: dict = field(default_factory=dict)  # steps, baseline, objective
    contrasted: list[bool] | None = None  # per row: a different contrast token was compared there
    source: str = ""  # the sentence, as given
    output: str = ""  # the output's text
    units: str = "subwords"  # or "words" (`words()`)

    def words(self) -> Attribution:
        """The same attribution over whole words: a word's column sums its pieces' columns; a
        word's row sums its pieces' rows (the pieces' log-probabilities add up to the word's),
        except attention's, which averages them so each row still sums to 1, as the page does.
        A word row is contrasted when any of its pieces is."""
        if self.units == "words":
            return self
        src, tgt = word_units(self.src_tokens), word_units(self.tgt_tokens)
        columns = np.stack([self.scores[:, pieces].sum(axis=1) for _, pieces in src], axis=1)
        pool = np.mean if self.method == "attention" else np.sum
        scores = np.stack([pool(columns[pieces], axis=0) for _, pieces in tgt])
        contrast = None if self.contrast_tokens is None else [w for w, _ in word_units(self.contrast_tokens)]
        marked = None if self.contrasted is None else [any(self.contrasted[i] for i in p) for _, p in tgt]
        return Attribution(self.method, [w for w, _ in src], [w for w, _ in tgt], scores, contrast,
                           dict(self.settings), marked, self.source, self.output, "words")

    def to_dict(self) -> dict:
        """A JSON-able dict (`from_dict` reads it back); scores as lists of floats."""
        return {"method": self.method, "source": self.source, "output": self.output, "units": self.units,
                "src_tokens": list(self.src_tokens), "tgt_tokens": list(self.tgt_tokens),
                "scores": [[_finite(x) for x in row] for row in np.asarray(self.scores).tolist()],
                "contrast_tokens": None if self.contrast_tokens is None else list(self.contrast_tokens),
                "contrasted": None if self.contrasted is None else list(self.contrasted),
                "settings": dict(self.settings)}

    @classmethod
    def from_dict(cls, tree: dict) -> Attribution:
        return cls(tree["method"], list(tree["src_tokens"]), list(tree["tgt_tokens"]),
                   np.asarray(tree["scores"], dtype=np.float64).reshape(len(tree["tgt_tokens"]),
                                                                        len(tree["src_tokens"])),
                   tree.get("contrast_tokens"), dict(tree.get("settings", {})), tree.get("contrasted"),
                   tree.get("source", ""), tree.get("output", ""), tree.get("units", "subwords"))

    @property
    def label(self) -> str:
        """What the scores are, for a colour bar or a heading."""
        name = self.method.replace("_", " ")
        return name + (" (contrastive)" if self.contrast_tokens is not None else "")

    def _repr_html_(self) -> str:  # Jupyter: the table of scores and the heatmap
        from seqattn.notebook import attribution_html

        return attribution_html(self)


def _finite(x: float) -> float | None:
    """JSON has no NaN or infinity: those become null."""
    return float(x) if math.isfinite(x) else None
