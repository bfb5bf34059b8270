"""Load a run directory and translate text: the one path used by the CLI, the API and training."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seqattn.config import Config
from seqattn.data.batching import make_batch
from seqattn.data.subword import EOS_ID, SOS_ID, UNK_ID, Subwords
from seqattn.errors import SeqattnError
from seqattn.model.kernels.packed import pack_bf16
from seqattn.model.kernels.quantize import quantize_int8
from seqattn.model.seq2seq import Seq2Seq
from seqattn.precision import Precision, decide, int8_engine
from seqattn.rundir import WEIGHTS, RunDir
from seqattn.runtime import check_fits, resolve_device
from seqattn.search import (
    MAX_OUTPUT_TOKENS,
    Hypothesis,
    TreeNode,
    beam_search,
    forced_scores,
    greedy_search,
    length_penalty,
)
from seqattn.weights import load_weights

MAX_SOURCE_TOKENS = 1000  # longer inputs are cut (with a flag on the result)


@dataclass
class Candidate:
    """One output hypothesis."""

    text: str
    score: float
    tgt_tokens: list[str]  # output subwords, '</s>' last when the model ended the sentence
    attention: np.ndarray | None  # (len(tgt_tokens), len(src_tokens)); None without attention


@dataclass
class ForcedScore:
    """How probable the model finds a given target for a source (forced decoding)."""

    source: str
    target: str
    src_tokens: list[str]  # source subwords and '</s>'
    tgt_tokens: list[str]  # target subwords and '</s>'
    logprobs: list[float]  # log-probability of each target token, '</s>' included
    logprob: float  # their sum: what greedy search reports as a hypothesis' score
    score: float  # logprob / ((5 + len) / 6) ** alpha: what beam search reports (decode.length_penalty)
    attention: np.ndarray | None  # (len(tgt_tokens), len(src_tokens))
    unknown: int = 0  # source and target tokens outside the vocabularies

    def _repr_html_(self) -> str:  # Jupyter
        from seqattn.notebook import forced_html

        return forced_html(self)


@dataclass
class Translation:
    """All hypotheses for one input, best first; the shortcuts give the best one."""

    source: str
    src_tokens: list[str]  # source subwords and the '</s>' the encoder read
    hypotheses: list[Candidate] = field(default_factory=list)
    truncated: bool = False
    unknown: int = 0  # source tokens outside the vocabulary, read as <unk>
    tree: list[TreeNode] | None = None  # the beam search's candidates, when asked for (`tree=True`)

    @property
    def text(self) -> str:
        return self.hypotheses[0].text

    @property
    def score(self) -> float:
        return self.hypotheses[0].score

    @property
    def tgt_tokens(self) -> list[str]:
        return self.hypotheses[0].tgt_tokens

    @property
    def attention(self) -> np.ndarray | None:
        return self.hypotheses[0].attention

    def _repr_html_(self) -> str:  # Jupyter: the n-best list and the heatmap
        from seqattn.notebook import translation_html

        return translation_html(self)


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
        if quantize not in (None, "int8"):
            raise SeqattnError(f"unknown quantization '{quantize}' (use int8)")
        if quantize == "int8" and self.device.type != "cpu":
            raise SeqattnError("--quantize int8 runs on the CPU only (use --device cpu)")
        if quantize == "int8" and int8_engine() is None:
            raise SeqattnError("--quantize int8: this PyTorch build has no quantized CPU engine "
                               "(fbgemm, x86, qnnpack or onednn); decode with --precision fp32")
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

    def freeze(self) -> Translator:
        """Build the decoding copy of the weights once; later changes to `model` are not seen."""
        self._frozen = self._decoding_model()
        return self

    def _decoding_model(self) -> torch.nn.Module:
        if self._frozen is not None:
            return self._frozen
        if self.quantize == "int8":
            return quantize_int8(self.model)
        dtype = self.policy.decoding_dtype
        if dtype == torch.bfloat16:
            return pack_bf16(self.model)  # weights prepacked for oneDNN on the CPU
        if dtype is not None:
            return copy.deepcopy(self.model).to(dtype).eval()
        return self.model

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
        """Decode subword-id sources in length-sorted batches; results in input order.

        On a CPU with several threads and several batches, batches are decoded side by side,
        one per thread (each single-threaded): a decoding step is many small operations
        that a second thread barely speeds up, while two independent batches use two cores.
        """
        d = self.cfg.decode
        batch_size = batch_size or d.batch_size
        alpha = d.length_penalty if length_penalty is None else length_penalty
        order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
        batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        self.model.eval()
        model = self._decoding_model()
        rows = self.policy.decode_row_multiple  # few bf16 shapes

        def decode(idx: list[int]) -> list[list[Hypothesis]]:
            with torch.inference_mode():  # thread-local: entered in each worker
                batch = make_batch([src_ids[i] for i in idx], None, idx).to(self.device)
                if beam == 1 and n_best == 1:
                    return [[h] for h in greedy_search(model, batch.src, batch.src_lengths, d.max_len_a,
                                                       d.max_len_b, SOS_ID, EOS_ID, rows, on_step)]
                return beam_search(model, batch.src, batch.src_lengths, beam, n_best, alpha,
                                   d.max_len_a, d.max_len_b, SOS_ID, EOS_ID, rows, on_step=on_step)

        threads = torch.get_num_threads()
        workers = min(threads, len(batches)) if self.device.type == "cpu" else 1
        if workers > 1:
            torch.set_num_threads(1)
            try:
                with ThreadPoolExecutor(workers) as pool:
                    decoded = list(pool.map(decode, batches))
            finally:
                torch.set_num_threads(threads)
        else:
            decoded = [decode(idx) for idx in batches]
        results: list[list[Hypothesis]] = [[] for _ in src_ids]
        for idx, hyps in zip(batches, decoded):
            for i, h in zip(idx, hyps):
                results[i] = h
        return results

    def translate(self, texts: Sequence[str], beam: int | None = None, n_best: int | None = None,
                  batch_size: int | None = None, length_penalty: float | None = None,
                  tree: bool = False, on_step: Callable[[], None] | None = None) -> list[Translation]:
        """Translate sentences; returns one Translation per input, in order. `tree=True` also
        records the beam search's candidates of every step (Translation.tree; beam 1 too);
        `on_step` is called before every decoding step (e.g. to yield to other work)."""
        if isinstance(texts, str):
            raise SeqattnError("translate() takes a list of sentences, not one string")
        beam = self.cfg.decode.beam if beam is None else beam
        n_best = self.cfg.decode.n_best if n_best is None else n_best
        if not 1 <= beam <= 64:
            raise SeqattnError(f"beam must be between 1 and 64 (got {beam})")
        if not 1 <= n_best <= beam:
            raise SeqattnError(f"n_best must be between 1 and the beam size {beam} (got {n_best})")
        if batch_size is not None and not 1 <= batch_size <= 4096:
            raise SeqattnError(f"batch size must be between 1 and 4096 sentences (got {batch_size})")
        if length_penalty is not None and not 0.0 <= length_penalty <= 10.0:
            raise SeqattnError(f"length penalty must be between 0 and 10 (got {length_penalty})")
        src_ids = self.subwords.encode_src([" ".join(t.split()) for t in texts])
        truncated = [len(s) > MAX_SOURCE_TOKENS for s in src_ids]
        src_ids = [s[:MAX_SOURCE_TOKENS] for s in src_ids]
        trees = [[] for _ in src_ids] if tree else None
        if tree:
            decoded = self._decode_with_trees(src_ids, beam, n_best, length_penalty, trees)
        else:
            decoded = self.decode_ids(src_ids, beam, n_best, batch_size, length_penalty, on_step)
        out = []
        for i, (text, ids, hyps, cut) in enumerate(zip(texts, src_ids, decoded, truncated)):
            src_tokens = self.subwords.src_pieces(ids) + ["</s>"]
            cands = [self.candidate(h) for h in hyps]
            out.append(Translation(text, src_tokens, cands, cut, ids.count(UNK_ID),
                                   trees[i] if trees is not None else None))
        return out

    def _decode_with_trees(self, src_ids: list[list[int]], beam: int, n_best: int,
                           alpha: float | None, trees: list[list[TreeNode]]) -> list[list[Hypothesis]]:
        """Beam search one sentence at a time, recording each one's tree."""
        d = self.cfg.decode
        alpha = d.length_penalty if alpha is None else alpha
        model, out = self._decoding_model(), []
        self.model.eval()
        with torch.inference_mode():
            for i, ids in enumerate(src_ids):
                batch = make_batch([ids], None, [0]).to(self.device)
                out += beam_search(model, batch.src, batch.src_lengths, beam, n_best, alpha, d.max_len_a,
                                   d.max_len_b, SOS_ID, EOS_ID, trees=trees[i : i + 1])
        return out

    def score(self, sources: Sequence[str], targets: Sequence[str],
              length_penalty_alpha: float | None = None) -> list[ForcedScore]:
        """Force each target through the model for its source (forced decoding): the
        log-probability of every target token, their sum, the length-normalised score beam
        search would give that output, and the attention of each step."""
        if isinstance(sources, str) or isinstance(targets, str):
            raise SeqattnError("score() takes lists of sources and targets, not strings")
        if len(sources) != len(targets):
            raise SeqattnError(f"{len(sources)} sources but {len(targets)} targets")
        alpha = self.cfg.decode.length_penalty if length_penalty_alpha is None else length_penalty_alpha
        src_ids = self.subwords.encode_src([" ".join(t.split()) for t in sources])
        tgt_ids = self.subwords.encode_tgt([" ".join(t.split()) for t in targets])
        for i, (s_ids, t_ids) in enumerate(zip(src_ids, tgt_ids)):
            if not t_ids:
                raise SeqattnError(f"target {i + 1} is empty: give the output to score")
            limits = (("source", s_ids, MAX_SOURCE_TOKENS), ("target", t_ids, MAX_OUTPUT_TOKENS - 1))
            for what, ids, most in limits:
                if len(ids) > most:
                    raise SeqattnError(f"{what} {i + 1} is {len(ids):,} subwords (at most {most:,})")
        order = sorted(range(len(src_ids)), key=lambda i: len(src_ids[i]))
        size = self.cfg.decode.batch_size
        model, forced = self._decoding_model(), [None] * len(src_ids)
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), size):
                idx = order[start : start + size]
                batch = make_batch([src_ids[i] for i in idx], None, idx).to(self.device)
                for i, f in zip(idx, forced_scores(model, batch.src, batch.src_lengths,
                                                   [tgt_ids[i] for i in idx], SOS_ID, EOS_ID)):
                    forced[i] = f
        out = []
        for source, target, s_ids, t_ids, f in zip(sources, targets, src_ids, tgt_ids, forced):
            total = float(sum(f.logprobs))
            out.append(ForcedScore(
                source, target, self.subwords.src_pieces(s_ids) + ["</s>"],
                self.subwords.tgt_pieces(t_ids) + ["</s>"], f.logprobs, total,
                total / length_penalty(len(f.tokens), alpha), f.attention,
                s_ids.count(UNK_ID) + t_ids.count(UNK_ID)))
        return out

    def candidate(self, hyp: Hypothesis) -> Candidate:
        """A search hypothesis as text, score, output subwords and attention."""
        body = hyp.tokens[:-1] if hyp.tokens and hyp.tokens[-1] == EOS_ID else hyp.tokens
        pieces = self.subwords.tgt_pieces(body) + (["</s>"] if len(body) < len(hyp.tokens) else [])
        return Candidate(self.subwords.decode_tgt(body), hyp.score, pieces, hyp.attention)
