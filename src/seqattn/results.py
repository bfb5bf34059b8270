"""What translating and scoring return: hypotheses as text, tokens, scores and attention,
with their notebook displays."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from seqattn.data.subword import EOS_ID, UNK_ID, Subwords
from seqattn.errors import SeqattnError
from seqattn.hypotheses import Forced, Hypothesis, TreeNode, length_penalty
from seqattn.limits import (
    MAX_OUTPUT_TOKENS,
    MAX_SOURCE_TOKENS,
    check_decoding,
    check_sampling,
    max_output_length,
)


@dataclass
class Candidate:
    """One output hypothesis."""

    text: str
    score: float
    tgt_tokens: list[str]  # output subwords, '</s>' last when the model ended the sentence
    attention: np.ndarray | None  # (len(tgt_tokens), len(src_tokens)); None without attention


def candidate(hyp: Hypothesis, subwords: Subwords) -> Candidate:
    """A search hypothesis as text, score, output subwords and attention (the run directory's
    translator and an exported model's alike)."""
    body = hyp.tokens[:-1] if hyp.tokens and hyp.tokens[-1] == EOS_ID else hyp.tokens
    pieces = subwords.tgt_pieces(body) + (["</s>"] if len(body) < len(hyp.tokens) else [])
    return Candidate(subwords.decode_tgt(body), hyp.score, pieces, hyp.attention)


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


def translate_inputs(subwords: Subwords, decode, texts: Sequence[str], beam: int | None, n_best: int | None,
                     batch_size: int | None, length_penalty: float | None
                     ) -> tuple[int, int, list[list[int]], list[bool]]:
    """What every translator does before decoding: defaults from the run's `decode` settings,
    the limits checked, the texts encoded and cut at MAX_SOURCE_TOKENS. Returns beam, n_best,
    the source ids and which inputs were cut."""
    if isinstance(texts, str):
        raise SeqattnError("translate() takes a list of sentences, not one string")
    beam = decode.beam if beam is None else beam
    n_best = decode.n_best if n_best is None else n_best
    check_decoding(beam, n_best, batch_size, length_penalty)
    src_ids = subwords.encode_src([" ".join(t.split()) for t in texts])
    truncated = [len(s) > MAX_SOURCE_TOKENS for s in src_ids]
    return beam, n_best, [s[:MAX_SOURCE_TOKENS] for s in src_ids], truncated


def prefix_inputs(subwords: Subwords, decode, prefix: str | Sequence[str] | None,
                  src_ids: Sequence[Sequence[int]]) -> list[list[int]] | None:
    """Forced output prefixes as target ids, one per source (`prefix`: one string for every
    source, or one per source; None or empty strings: none), checked: as many as the sources,
    none made only of unknown tokens (and word-start marks), each shorter than its source's
    output limit."""
    if prefix is None:
        return None
    texts = [prefix] * len(src_ids) if isinstance(prefix, str) else list(prefix)
    if len(texts) != len(src_ids):
        raise SeqattnError(f"{len(texts)} prefixes for {len(src_ids)} texts: give one per text, or one "
                           "string for all")
    ids = subwords.encode_tgt([" ".join(t.split()) for t in texts])
    for i, (text, p, src) in enumerate(zip(texts, ids, src_ids)):
        marks = [x == UNK_ID or not piece.strip("\u2581 ") for x, piece in zip(p, subwords.tgt_pieces(p))]
        if p and all(marks):
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise SeqattnError(f"prefix {i + 1} ({shown!r}) is made only of tokens outside the model's "
                               "target vocabulary: write it in the output's own words or symbols")
        limit = max_output_length(len(src) + 1, decode.max_len_a, decode.max_len_b)
        if len(p) >= limit:
            raise SeqattnError(f"prefix {i + 1} is {len(p):,} subwords, but the output for its source ends "
                               f"by {limit:,} subwords (EOS included; decode.max_len_a and max_len_b): "
                               "shorten the prefix")
    return ids if any(ids) else None


@dataclass
class Sampling:
    """How outputs are drawn (`decode.sampling`, with a call's own values): see `search.sampling`."""

    samples: int
    temperature: float
    top_k: int
    top_p: float
    seed: int | list[int]  # one for the call (each text's seed derived from it and its position),
    # or one per text


def sampling_inputs(sampling, sample: int | None, seed: int | Sequence[int] | None, temperature: float | None,
                    top_k: int | None, top_p: float | None, beam: int | None, n_best: int | None,
                    tree: bool) -> Sampling | None:
    """The call's sampling settings over the run's `decode.sampling`, checked; None when the
    outputs are searched for (`sample` 0, or None with `decode.sampling.samples` 0)."""
    samples = sampling.samples if sample is None else sample
    if samples == 0:
        return None
    if (beam or 1) > 1 or (n_best or 1) > 1:
        raise SeqattnError("sampling draws outputs instead of searching: ask for samples or for a beam "
                           f"and n-best, not both (got beam {beam or 1}, n_best {n_best or 1})")
    if tree:
        raise SeqattnError("a search tree is beam search's: sampling draws none")
    plan = Sampling(samples, sampling.temperature if temperature is None else temperature,
                    sampling.top_k if top_k is None else top_k, sampling.top_p if top_p is None else top_p,
                    sampling.seed if seed is None else (seed if isinstance(seed, int) else list(seed)))
    check_sampling(plan.samples, plan.temperature, plan.top_k, plan.top_p,
                   plan.seed if isinstance(plan.seed, int) else 0)
    return plan


def forced_inputs(subwords: Subwords, sources: Sequence[str], targets: Sequence[str]
                  ) -> tuple[list[list[int]], list[list[int]]]:
    """The sources and targets to score as subword ids, checked: lists of one length, no empty
    target, none past the limits (the run directory's translator and an exported model's alike)."""
    if isinstance(sources, str) or isinstance(targets, str):
        raise SeqattnError("score() takes lists of sources and targets, not strings")
    if len(sources) != len(targets):
        raise SeqattnError(f"{len(sources)} sources but {len(targets)} targets")
    src_ids = subwords.encode_src([" ".join(t.split()) for t in sources])
    tgt_ids = subwords.encode_tgt([" ".join(t.split()) for t in targets])
    for i, (s_ids, t_ids) in enumerate(zip(src_ids, tgt_ids)):
        if not t_ids:
            raise SeqattnError(f"target {i + 1} is empty: give the output to score")
        limits = (("source", s_ids, MAX_SOURCE_TOKENS), ("target", t_ids, MAX_OUTPUT_TOKENS - 1))
        for what, ids, most in limits:
            if len(ids) > most:
                raise SeqattnError(f"{what} {i + 1} is {len(ids):,} subwords (at most {most:,})")
    return src_ids, tgt_ids


def forced_score(source: str, target: str, s_ids: list[int], t_ids: list[int], forced: Forced,
                 subwords: Subwords, alpha: float) -> ForcedScore:
    """One forced decoding as a ForcedScore: its sum, and the score beam search would give it."""
    total = float(sum(forced.logprobs))
    return ForcedScore(source, target, subwords.src_pieces(s_ids) + ["</s>"],
                       subwords.tgt_pieces(t_ids) + ["</s>"], forced.logprobs, total,
                       total / length_penalty(len(forced.tokens), alpha), forced.attention,
                       s_ids.count(UNK_ID) + t_ids.count(UNK_ID))


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
