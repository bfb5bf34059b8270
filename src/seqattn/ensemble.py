"""Several trained runs translating as one model: `Ensemble`, a `Translator` whose decoding
model is an `EnsembleStepper` over its members' decoding copies.

Everything a translator does works on an ensemble through the same searches: translate
(greedy, beam, n-best, trees), score, explain. Members may differ in architecture; they
must share their vocabularies and special ids, and the first difference is refused in one
line. The ensemble's decoding settings (`cfg`) are its first member's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from seqattn.choices import DEFAULT_ENSEMBLE_RULE
from seqattn.data.subword import SPECIALS, Subwords
from seqattn.deploy.manifest import is_export
from seqattn.errors import SeqattnError
from seqattn.search import EnsembleStepper, TorchStepper
from seqattn.translator import Translator

ATTENTION_LABEL = "mean of {n} members' attention"  # what an ensemble's attention is


def vocabulary_difference(a: Subwords, b: Subwords) -> str | None:
    """The first way `b`'s vocabularies differ from `a`'s (sizes, pieces, special ids, encoding
    rules), in words; None when they are the same."""
    specials = {i: name for name, i in SPECIALS.items()}
    for side, va, vb in (("source", a.src, b.src), ("target", a.tgt, b.tgt)):
        na, nb = va.get_piece_size(), vb.get_piece_size()
        if na != nb:
            return f"{side} vocabulary has {nb:,} entries where the first member's has {na:,}"
        for i in range(na):
            pa, pb = va.id_to_piece(i), vb.id_to_piece(i)
            if pa != pb:
                what = f"special id {i} ({specials[i]})" if i in specials else f"id {i}"
                return f"{side} {what} is '{pb}' where the first member's is '{pa}'"
    for k, side in enumerate(("source", "target")):
        blob_a, blob_b = (x._blobs[k] or x._blobs[0] for x in (a, b))
        if blob_a != blob_b:
            return f"{side} subword model differs from the first member's (the same pieces, other rules)"
    return None


def check_members(members: Sequence[Translator], names: Sequence[str]) -> None:
    """Refuse, in one line naming the first difference, members whose vocabularies differ."""
    for member, name in zip(members[1:], names[1:]):
        difference = vocabulary_difference(members[0].subwords, member.subwords)
        if difference:
            raise SeqattnError(f"{name} cannot join an ensemble with {names[0]}: its {difference} "
                               "(an ensemble's members must share their vocabularies and special ids)")


class Ensemble(Translator):
    """Member translators decoding as one; `rule` combines their distributions
    (`seqattn.search.ensemble`). `model` is None: an ensemble has no one model."""

    def __init__(self, members: Sequence[Translator], rule: str = DEFAULT_ENSEMBLE_RULE,
                 names: Sequence[str] | None = None):
        members = list(members)
        if not members:
            raise SeqattnError("an ensemble needs at least one model")
        self.names = list(names) if names is not None else [
            str(m.run_dir) if m.run_dir else f"model {i + 1}" for i, m in enumerate(members)]
        check_members(members, self.names)
        first = members[0]
        self.members, self.rule = members, rule
        EnsembleStepper([TorchStepper(first.model)], rule)  # (an unknown rule is refused now)
        self.model = None  # type: ignore[assignment]
        self.device, self.subwords, self.cfg = first.device, first.subwords, first.cfg
        self.quantize, self.policy = first.quantize, first.policy
        self._frozen = None
        self.run_dir: Path | None = None

    @property
    def attention_label(self) -> str:
        return ATTENTION_LABEL.format(n=len(self.members))

    def freeze(self) -> Ensemble:
        for m in self.members:
            m.freeze()
        return self

    def decoding_model(self) -> EnsembleStepper:  # type: ignore[override]
        """The members' decoding weights as one Stepper."""
        return EnsembleStepper([TorchStepper(m.decoding_model()) for m in self.members], self.rule)

    @classmethod
    def load(cls, run_dirs: Sequence[str | Path], device: str = "auto",  # type: ignore[override]
             precision: str = "fp32", quantize: str | None = None,
             rule: str = DEFAULT_ENSEMBLE_RULE) -> Ensemble:
        """Load each run directory (as `Translator.load`) and check they can decode together."""
        if isinstance(run_dirs, (str, Path)):
            raise SeqattnError("an ensemble takes a list of run directories")
        for path in run_dirs:
            if is_export(path):
                raise SeqattnError(f"{path} is an exported model: an ensemble is made of run "
                                   "directories (give the runs it was exported from)")
        members = [Translator.load(p, device=device, precision=precision, quantize=quantize)
                   for p in run_dirs]
        return cls(members, rule, [str(p) for p in run_dirs])
