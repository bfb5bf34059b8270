"""Load a run directory and translate text: the one path used by the CLI, the API and training.

A thin façade: the weights to decode with come from `decoding_copy`, the searches from
`seqattn.search`, the batching from `batches.in_batches`, the result types from `results`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from seqattn.batches import in_batches
from seqattn.config import Config
from seqattn.data.batching import make_batch
from seqattn.data.subword import UNK_ID, Subwords
from seqattn.decoding_copy import check_quantize, decoding_copy
from seqattn.errors import SeqattnError
from seqattn.model.seq2seq import Seq2Seq
from seqattn.precision import Precision, decide
from seqattn.results import (
    Candidate,
    ForcedScore,
    Sampling,
    Translation,
    candidate,
    forced_inputs,
    forced_score,
    prefix_inputs,
    sampling_inputs,
    translate_inputs,
)
from seqattn.rundir import WEIGHTS, RunDir
from seqattn.runtime import check_fits, resolve_device
from seqattn.search import (
    BeamSearch,
    EachStep,
    Forced,
    GreedySearch,
    Hypothesis,
    SampleSearch,
    TreeNode,
    TreeRecorder,
    forced_scores,
    sentence_seed,
)
from seqattn.weights import load_weights

__all__ = ["Candidate", "ForcedScore", "Translation", "Translator"]


def text_seeds(plan: Sampling, texts: int) -> list[int]:
    """Each text's seed: derived from the plan's seed and the text's position, or given one per text."""
    if isinstance(plan.seed, int):
        return [sentence_seed(plan.seed, i) for i in range(texts)]
    if len(plan.seed) != texts or not all(isinstance(x, int) and x >= 0 for x in plan.seed):
        raise SeqattnError(f"give one seed for all texts, or one per text (a whole number, 0 or more): got "
                           f"{len(plan.seed)} for {texts} texts")
    return list(plan.seed)


class Translator:
    """A model, its subwords and its decoding defaults.

    `precision` (a name, or a `Precision` decided for decoding): 'bf16' decodes with a bf16
    copy of the weights (no per-step casts), 'fp16' (CUDA only) with an fp16 copy, 'auto'
    picks bf16 where the hardware runs it natively (see `seqattn.precision`);
    `quantize='int8'` decodes with int8 Linear/LSTM weights (CPU). `model` itself is never
    changed: the copy is made per call, or once after `freeze()` when the weights will not
    change again (loaded runs).
    """

    def __init__(self, model: Seq2Seq, subwords: Subwords, cfg: Config,
                 device: torch.device | None = None, precision: str | Precision = "fp32",
                 quantize: str | None = None):
        self.device = device or next(model.parameters()).device
        self.model = model.to(self.device).eval()
        self.subwords, self.cfg = subwords, cfg
        check_quantize(quantize, self.device)
        self.quantize = quantize
        if isinstance(precision, Precision):
            self.policy = precision
        else:  # int8 replaces the precision: nothing to probe or refuse
            self.policy = decide("fp32" if quantize else precision, self.device, "decode")
        self._frozen: Seq2Seq | None = None
        self.run_dir: Path | None = None  # the run directory it was loaded from (Translator.load)

    @property
    def precision(self) -> str:
        """The decided precision's name: 'fp32', 'bf16' or 'fp16'."""
        return self.policy.name

    @property
    def weights_label(self) -> str:
        """What translations are decoded with: 'int8', or the precision's name."""
        return self.quantize or self.policy.name

    def freeze(self) -> Translator:
        """Build the decoding copy of the weights once; later changes to `model` are not seen."""
        self._frozen = self.decoding_model()
        return self

    def decoding_model(self) -> torch.nn.Module:
        """The weights translations are decoded with (the frozen copy, or a fresh one)."""
        self.model.eval()
        if self._frozen is not None:
            return self._frozen
        return decoding_copy(self.model, self.policy, self.quantize)

    @classmethod
    def load(cls, run_dir: str | Path, device: str = "auto", weights: str = WEIGHTS,
             precision: str | Precision = "fp32", quantize: str | None = None) -> Translator:
        """Load a run directory's config, subwords and `weights` for decoding. The device and
        precision are checked first, so a request the hardware cannot serve fails at once."""
        if quantize == "int8" and device == "auto":
            device = "cpu"  # int8 kernels are CPU kernels
        where = resolve_device(device)
        if isinstance(precision, str) and not quantize:
            precision = decide(precision, where, "decode")
        run = RunDir.open(run_dir)
        cfg = run.read_config()
        subwords = Subwords.load(run.path)
        sizes = (cfg.model, subwords.src_vocab_size, subwords.tgt_vocab_size)
        check_fits(Seq2Seq.count_parameters(*sizes), 4, where, f"{run.config}: model",
                   Seq2Seq.largest_size(*sizes))
        model = Seq2Seq(*sizes)
        path = run.path / weights
        if not path.is_file():
            raise SeqattnError(f"{path}: no weights yet (has the run validated once?)")
        load_weights(model, path)
        translator = cls(model, subwords, cfg, where, precision, quantize).freeze()
        translator.run_dir = run.path
        return translator

    def decode_ids(self, src_ids: Sequence[Sequence[int]], beam: int, n_best: int = 1,
                   batch_size: int | None = None, length_penalty: float | None = None,
                   on_step: Callable[[], None] | None = None) -> list[list[Hypothesis]]:
        """Decode subword-id sources in length-sorted batches; results in input order."""
        return [hyps for hyps, _ in self._decode(src_ids, beam, n_best, batch_size, length_penalty,
                                                 on_step, tree=False, prefixes=None)]

    def _search(self, beam: int, n_best: int, alpha: float, observers: list, tree: bool,
                plan: Sampling | None) -> GreedySearch | BeamSearch | SampleSearch:
        d = self.cfg.decode
        common = dict(max_len_a=d.max_len_a, max_len_b=d.max_len_b, observers=observers,
                      row_multiple=self.policy.decode_row_multiple)  # few bf16 shapes
        if plan is not None:
            return SampleSearch(samples=plan.samples, temperature=plan.temperature, top_k=plan.top_k,
                                top_p=plan.top_p, **common)
        if beam == 1 and n_best == 1 and not tree:
            return GreedySearch(**common)
        return BeamSearch(beam=beam, n_best=n_best, alpha=alpha, **common)

    def _decode(self, src_ids: Sequence[Sequence[int]], beam: int, n_best: int, batch_size: int | None,
                alpha: float | None, on_step: Callable[[], None] | None, tree: bool,
                prefixes: Sequence[Sequence[int]] | None, plan: Sampling | None = None,
                seeds: Sequence[int] = ()) -> list[tuple[list[Hypothesis], list[TreeNode] | None]]:
        """Hypotheses (and with `tree` the beam's tree, one sentence per batch) per source, each
        starting with its forced prefix when `prefixes` gives one; drawn by `plan` (each
        sentence from its seed in `seeds`) when given."""
        d = self.cfg.decode
        alpha = d.length_penalty if alpha is None else alpha
        model = self.decoding_model()

        def work(idx: list[int]) -> list[tuple[list[Hypothesis], list[TreeNode] | None]]:
            recorder = TreeRecorder(len(idx)) if tree else None
            observers = [o for o in (recorder, on_step and EachStep(on_step)) if o]
            search = self._search(beam, n_best, alpha, observers, tree, plan)
            with torch.inference_mode():  # thread-local: entered in each worker
                batch = make_batch([src_ids[i] for i in idx], None, idx).to(self.device)
                forced = None if prefixes is None else [prefixes[i] for i in idx]
                if isinstance(search, SampleSearch):
                    found = search.run(model, batch.src, batch.src_lengths, forced, [seeds[i] for i in idx])
                else:
                    found = search.run(model, batch.src, batch.src_lengths, forced)
            if isinstance(search, GreedySearch) and not isinstance(search, SampleSearch):
                found = [[h] for h in found]
            return list(zip(found, recorder.trees if recorder else [None] * len(idx)))

        size = 1 if tree else batch_size or d.batch_size
        return in_batches([len(s) for s in src_ids], size, work,
                          side_by_side=not tree and self.device.type == "cpu")

    def translate(self, texts: Sequence[str], beam: int | None = None, n_best: int | None = None,
                  batch_size: int | None = None, length_penalty: float | None = None,
                  tree: bool = False, on_step: Callable[[], None] | None = None,
                  prefix: str | Sequence[str] | None = None, sample: int | None = None,
                  seed: int | Sequence[int] | None = None, temperature: float | None = None,
                  top_k: int | None = None, top_p: float | None = None) -> list[Translation]:
        """Translate sentences; returns one Translation per input, in order. `tree=True` also
        records the beam search's candidates of every step (Translation.tree; beam 1 too);
        `on_step` is called before every decoding step (e.g. to yield to other work);
        `prefix` (one string for every text, or one per text) is how each output starts:
        search continues from its tokens (`search.prefix`).

        `sample=N` draws N outputs per text instead of searching (hypotheses in the order drawn,
        each scored by its log-probability; `search.sampling`), with `temperature`, `top_k`,
        `top_p` and `seed` (text i draws from `sentence_seed(seed, i)`; or a list, one seed per
        text); unset values come from the run's `decode.sampling`, which also says whether to
        sample when `sample` is None."""
        plan = sampling_inputs(self.cfg.decode.sampling, sample, seed, temperature, top_k, top_p, beam,
                               n_best, tree)
        beam, n_best, src_ids, truncated = translate_inputs(
            self.subwords, self.cfg.decode, texts, 1 if plan else beam, 1 if plan else n_best, batch_size,
            length_penalty)
        prefixes = prefix_inputs(self.subwords, self.cfg.decode, prefix, src_ids)
        seeds = text_seeds(plan, len(src_ids)) if plan else []
        decoded = self._decode(src_ids, beam, n_best, batch_size, length_penalty, on_step, tree, prefixes,
                               plan, seeds)
        out = []
        for text, ids, (hyps, found_tree), cut in zip(texts, src_ids, decoded, truncated):
            src_tokens = self.subwords.src_pieces(ids) + ["</s>"]
            cands = [self.candidate(h) for h in hyps]
            out.append(Translation(text, src_tokens, cands, cut, ids.count(UNK_ID), found_tree))
        return out

    def score(self, sources: Sequence[str], targets: Sequence[str],
              length_penalty_alpha: float | None = None) -> list[ForcedScore]:
        """Force each target through the model for its source (forced decoding): the
        log-probability of every target token, their sum, the length-normalised score beam
        search would give that output, and the attention of each step."""
        alpha = self.cfg.decode.length_penalty if length_penalty_alpha is None else length_penalty_alpha
        src_ids, tgt_ids = forced_inputs(self.subwords, sources, targets)
        forced = self.forced_ids(src_ids, tgt_ids)
        return [forced_score(*row, self.subwords, alpha)
                for row in zip(sources, targets, src_ids, tgt_ids, forced)]

    def forced_ids(self, src_ids: Sequence[Sequence[int]], tgt_ids: Sequence[Sequence[int]]) -> list[Forced]:
        """Forced decoding of subword-id pairs (no specials) in length-sorted batches, in input order."""
        model = self.decoding_model()

        def work(idx: list[int]) -> list[Forced]:
            with torch.inference_mode():
                batch = make_batch([src_ids[i] for i in idx], None, idx).to(self.device)
                return forced_scores(model, batch.src, batch.src_lengths, [tgt_ids[i] for i in idx])

        return in_batches([len(s) for s in src_ids], self.cfg.decode.batch_size, work)

    def candidate(self, hyp: Hypothesis) -> Candidate:
        """A search hypothesis as text, score, output subwords and attention."""
        return candidate(hyp, self.subwords)
