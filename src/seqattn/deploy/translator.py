"""An exported model as a translator: NumPy, ONNX Runtime and SentencePiece, no torch.

`ExportedTranslator.translate` answers like `seqattn.translator.Translator.translate` (the
same arguments, limits and result types); what needs the model's internals (beam trees,
explain, forced scores, other precisions) is the run directory's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqattn.data.subword import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Subwords
from seqattn.deploy import search
from seqattn.deploy.manifest import read_manifest
from seqattn.deploy.stepper import OnnxStepper
from seqattn.errors import SeqattnError
from seqattn.hypotheses import Hypothesis
from seqattn.limits import MAX_SOURCE_TOKENS, check_decoding
from seqattn.results import Translation, candidate

NOT_EXPORTED = ("an exported model does not offer {what}: it needs the model's internals; "
                "use the run directory")


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

    weights_label = "fp32"  # (what translations are decoded with, as `Translator.weights_label`)

    def __init__(self, folder: Path, manifest: dict[str, Any], threads: int | None = None):
        self.folder, self.manifest = folder, manifest
        self.decode: dict[str, Any] = dict(manifest["decode"])
        self.special_ids: dict[str, int] = dict(manifest["special_ids"])
        self.subwords = Subwords.load(folder)
        self.stepper = OnnxStepper(folder, manifest["graphs"], manifest.get("opset"), threads)

    @classmethod
    def load(cls, folder: str | Path, threads: int | None = None) -> ExportedTranslator:
        """Check the folder whole (`manifest.read_manifest`), then load its graphs and vocabulary."""
        folder = Path(folder)
        manifest = read_manifest(folder)
        try:
            return cls(folder, manifest, threads)
        except (KeyError, TypeError):
            raise SeqattnError(f"{folder}: damaged manifest (a graph or setting is missing); "
                               "export the run again") from None

    def decode_ids(self, src_ids: Sequence[Sequence[int]], beam: int, n_best: int = 1,
                   batch_size: int | None = None, length_penalty: float | None = None
                   ) -> list[list[Hypothesis]]:
        """Decode subword-id sources in length-sorted batches; results in input order."""
        d = self.decode
        alpha = d["length_penalty"] if length_penalty is None else length_penalty
        size = batch_size or d["batch_size"]
        limits = dict(max_len_a=d["max_len_a"], max_len_b=d["max_len_b"],
                      sos_id=self.special_ids.get("sos", SOS_ID), eos_id=self.special_ids.get("eos", EOS_ID))
        order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
        results: list[list[Hypothesis]] = [[] for _ in src_ids]
        for start in range(0, len(order), size):
            idx = order[start : start + size]
            src, lengths = pad_sources([src_ids[i] for i in idx])
            if beam == 1 and n_best == 1:
                found = [[h] for h in search.greedy(self.stepper, src, lengths, **limits)]
            else:
                found = search.beam(self.stepper, src, lengths, beam, n_best, alpha, **limits)
            for i, hyps in zip(idx, found):
                results[i] = hyps
        return results

    def translate(self, texts: Sequence[str], beam: int | None = None, n_best: int | None = None,
                  batch_size: int | None = None, length_penalty: float | None = None,
                  tree: bool = False, on_step: Any = None) -> list[Translation]:
        """Translate sentences; one Translation per input, in order (as `Translator.translate`)."""
        if isinstance(texts, str):
            raise SeqattnError("translate() takes a list of sentences, not one string")
        if tree:
            raise SeqattnError(NOT_EXPORTED.format(what="beam trees"))
        if on_step is not None:
            raise SeqattnError(NOT_EXPORTED.format(what="a per-step callback"))
        beam = self.decode["beam"] if beam is None else beam
        n_best = self.decode["n_best"] if n_best is None else n_best
        check_decoding(beam, n_best, batch_size, length_penalty)
        src_ids = self.subwords.encode_src([" ".join(t.split()) for t in texts])
        truncated = [len(s) > MAX_SOURCE_TOKENS for s in src_ids]
        src_ids = [s[:MAX_SOURCE_TOKENS] for s in src_ids]
        decoded = self.decode_ids(src_ids, beam, n_best, batch_size, length_penalty) if texts else []
        return [Translation(text, self.subwords.src_pieces(ids) + ["</s>"],
                            [candidate(h, self.subwords) for h in hyps], cut, ids.count(UNK_ID))
                for text, ids, hyps, cut in zip(texts, src_ids, decoded, truncated)]
