"""An exported model as a translator: NumPy, ONNX Runtime and SentencePiece, no torch.

`ExportedTranslator.translate` and `.score` answer like `seqattn.translator.Translator`'s (the
same arguments, limits and result types), and `.cfg` is the run's config (from the manifest);
what needs the model's internals (beam trees, explain, other precisions, training's pictures)
is the run directory's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.config import Config, build_config
from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Subwords
from seqattn.deploy import search
from seqattn.deploy.manifest import MANIFEST, read_manifest
from seqattn.deploy.stepper import CallingEachStep, OnnxStepper
from seqattn.errors import SeqattnError
from seqattn.hypotheses import Forced, Hypothesis
from seqattn.results import ForcedScore, Translation, candidate, forced_inputs, forced_score, translate_inputs

NO_INTERNALS = ("an exported model does not offer step-by-step internals ({what}); "
                "serve the run directory for the studio")


def check_choices(folder: str | Path, quantization: str | None, device: str | None = "auto",
                  precision: str | None = "auto", quantize: str | None = None) -> None:
    """Refuse a device, precision or quantization an exported model cannot decode with: it runs
    on the CPU with ONNX Runtime, with the weights it was exported with (fp32, or `quantization`)."""
    if device not in (None, "auto", "cpu") or precision not in (None, "auto", "fp32") \
            or quantize not in (None, quantization):
        raise SeqattnError(f"{folder}: an exported model decodes on the CPU with ONNX Runtime, with the "
                           f"weights it was exported with ({quantization or 'fp32'}); device, precision and "
                           "quantize are the run directory's choices")


def pad_sources(sources: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Subword ids without specials -> src (batch, src_len) with EOS after each source and PAD
    after that, and src_lengths (batch,) counting the EOS (as `data.batching.make_batch`)."""
    lengths = np.array([len(s) + 1 for s in sources], dtype=np.int64)
    src = np.full((len(sources), int(lengths.max())), PAD_ID, dtype=np.int64)
    for row, ids in enumerate(sources):
        src[row, : len(ids)] = ids
        src[row, len(ids)] = EOS_ID
    return src, lengths


class ExportedTranslator:
    """The graphs, vocabulary and decoding defaults of an exported folder."""

    device = "cpu"  # (where it decodes, as `Translator.device`)

    def __init__(self, folder: Path, manifest: dict[str, Any], threads: int | None = None):
        self.folder, self.manifest = folder, manifest
        self.cfg: Config = build_config(manifest["config"], source=str(folder / MANIFEST))
        self.quantization: str | None = manifest.get("quantization")
        self.special_ids: dict[str, int] = dict(manifest["special_ids"])
        self.subwords = Subwords.load(folder)
        self.stepper = OnnxStepper(folder, manifest["graphs"], manifest.get("opset"), threads)

    @classmethod
    def load(cls, folder: str | Path, threads: int | None = None, device: str | None = "auto",
             precision: str | None = "auto", quantize: str | None = None) -> ExportedTranslator:
        """Check the folder whole (`manifest.read_manifest`) and the choices asked for
        (`check_choices`), then load its graphs and vocabulary."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        check_choices(folder, manifest.get("quantization"), device, precision, quantize)
        try:
            return cls(folder, manifest, threads)
        except (KeyError, TypeError):
            raise SeqattnError(f"{folder}: damaged manifest (a graph or setting is missing); "
                               "export the run again") from None

    @property
    def weights_label(self) -> str:
        """What translations are decoded with: 'int8' or 'fp32' (as `Translator.weights_label`)."""
        return self.quantization or "fp32"

    def _specials(self) -> dict[str, int]:
        return dict(sos_id=self.special_ids.get("sos", SOS_ID), eos_id=self.special_ids.get("eos", EOS_ID))

    def decode_ids(self, src_ids: Sequence[Sequence[int]], beam: int, n_best: int = 1,
                   batch_size: int | None = None, length_penalty: float | None = None,
                   on_step: Any = None) -> list[list[Hypothesis]]:
        """Decode subword-id sources in length-sorted batches; results in input order; `on_step`
        is called before every decoding step."""
        stepper = self.stepper if on_step is None else CallingEachStep(self.stepper, on_step)
        d = self.cfg.decode
        alpha = d.length_penalty if length_penalty is None else length_penalty
        size = batch_size or d.batch_size
        limits = dict(max_len_a=d.max_len_a, max_len_b=d.max_len_b, **self._specials())
        order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
        results: list[list[Hypothesis]] = [[] for _ in src_ids]
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            src, lengths = pad_sources([src_ids[i] for i in idx])
            if beam == 1 and n_best == 1:
                found = [[h] for h in search.greedy(stepper, src, lengths, **limits)]
            else:
                found = search.beam(stepper, src, lengths, beam, n_best, alpha, **limits)
            for i, hyps in zip(idx, found):
                results[i] = hyps
        return results

    def translate(self, texts: Sequence[str], beam: int | None = None, n_best: int | None = None,
                  batch_size: int | None = None, length_penalty: float | None = None,
                  tree: bool = False, on_step: Any = None) -> list[Translation]:
        """Translate sentences; one Translation per input, in order (as `Translator.translate`)."""
        if tree and not isinstance(texts, str):
            raise SeqattnError(NO_INTERNALS.format(what="beam trees"))
        beam, n_best, src_ids, truncated = translate_inputs(
            self.subwords, self.cfg.decode, texts, beam, n_best, batch_size, length_penalty)
        decoded = self.decode_ids(src_ids, beam, n_best, batch_size, length_penalty, on_step) if texts else []
        return [Translation(text, self.subwords.src_pieces(ids) + ["</s>"],
                            [candidate(h, self.subwords) for h in hyps], cut, ids.count(UNK_ID))
                for text, ids, hyps, cut in zip(texts, src_ids, decoded, truncated)]

    def score(self, sources: Sequence[str], targets: Sequence[str],
              length_penalty_alpha: float | None = None) -> list[ForcedScore]:
        """Force each target through the graphs for its source (as `Translator.score`): each target
        token's log-probability, their sum, the score beam search would give it, the attention."""
        alpha = self.cfg.decode.length_penalty if length_penalty_alpha is None else length_penalty_alpha
        src_ids, tgt_ids = forced_inputs(self.subwords, sources, targets)
        return [forced_score(*row, self.subwords, alpha)
                for row in zip(sources, targets, src_ids, tgt_ids, self.forced_ids(src_ids, tgt_ids))]

    def forced_ids(self, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]]) -> list[Forced]:
        """Forced decoding of subword-id pairs (no specials) in length-sorted batches, in input order."""
        order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
        forced: list[Any] = [None] * len(src_ids)
        size = self.cfg.decode.batch_size
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            src, lengths = pad_sources([src_ids[i] for i in idx])
            found = search.forced(self.stepper, src, lengths, [tgt_ids[i] for i in idx], **self._specials())
            for i, f in zip(idx, found):
                forced[i] = f
        return forced
