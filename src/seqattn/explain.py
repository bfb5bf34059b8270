"""One translation, step by step, with the model's own numbers.

`explain` runs the same greedy search that `translate` uses, over the same weights (the
translator's precision or int8 copy), through a stepper that keeps what the encoder returned
and each step's trace (`Decoder.traced_step`); nothing is re-implemented. An ensemble is
walked through as one model: each step's choice and top tokens are the ensemble's, its weights
the members' mean; the members' own vectors (encoder states, queries, scores) are left out.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import numpy as np
import torch
from wcwidth import wcswidth

from seqattn.data.batching import make_batch
from seqattn.data.subword import EOS_ID
from seqattn.ensemble import ATTENTION_LABEL
from seqattn.errors import SeqattnError
from seqattn.model.decoder import DecoderState, StepTrace
from seqattn.model.encoder import EncoderOutput
from seqattn.model.seq2seq import Seq2Seq
from seqattn.search import EnsembleStepper, GreedySearch, Stepper, TorchStepper
from seqattn.search.stepper import Memory, Rows
from seqattn.translator import Translator

BAR = "█"
SCORE_FORMULAS = {  # the score of the decoder state s_t against encoder state h_j, per attention type
    "dot": "score(s_t, h_j) = s_t · h_j",
    "general": "score(s_t, h_j) = s_t^T W h_j",
    "additive": "score(s_t, h_j) = v^T tanh(W s_t + U h_j)",
    "scaled_dot": "score(s_t, h_j) = s_t · h_j / √d",
    "none": "no attention: every step sees only the context vector",
}


@dataclass
class Step:
    query: np.ndarray | None  # (hidden,) s_t; None for an ensemble (one per member)
    scores: np.ndarray | None  # (src_len,) raw scores
    weights: np.ndarray | None  # (src_len,) alpha; an ensemble's: the members' mean
    attention_value: np.ndarray | None  # (enc_hidden,)
    attentional: np.ndarray | None  # (hidden,) combined state
    top: list[tuple[str, float]]  # five most probable next tokens
    chosen: str
    fed: str = "<s>"  # the token fed in at this step: <s>, then the previous step's choice


@dataclass
class Explanation:
    sentence: str
    src_ids: list[int]
    src_tokens: list[str]
    src_embedding_shape: tuple[int, ...] | None  # (None for an ensemble: one per member, so
    tgt_embedding_shape: tuple[int, ...] | None  # the vectors below are None too)
    encoder_states: np.ndarray | None  # (src_len, enc_hidden) h_1..h_n
    context_vector: np.ndarray | None  # (enc_hidden,)
    initial_state: np.ndarray | None  # (layers, dec_hidden) decoder h_0
    steps: list[Step] = field(default_factory=list)
    output_text: str = ""
    attention_type: str = "none"  # an ensemble's: its members' types, comma-separated
    weights: str = "fp32"  # the weights walked through: those translate decodes with
    members: list[str] = field(default_factory=list)  # an ensemble's runs (empty for one model)

    @property
    def formula(self) -> str:
        """The score function of this model's attention type, in symbols (for an ensemble, what
        its weights are)."""
        if self.members:
            return ATTENTION_LABEL.format(n=len(self.members))
        return SCORE_FORMULAS.get(self.attention_type, self.attention_type)

    def _repr_html_(self) -> str:  # Jupyter: the steps as a table, and the heatmap
        from seqattn.notebook import explanation_html

        return explanation_html(self)

    @property
    def attention(self) -> np.ndarray | None:
        """(output steps, src_len) weights, as `translate` returns them."""
        if self.steps and self.steps[0].weights is not None:
            return np.stack([s.weights for s in self.steps])
        return None


def _preview(x: np.ndarray, n: int = 4) -> str:
    head = ", ".join(f"{v:+.3f}" for v in x.reshape(-1)[:n])
    return f"[{head}{', …' if x.size > n else ''}]"


MAX_EXPLAIN_SUBWORDS = 100


class TracingStepper(TorchStepper):
    """The model as the searches see it, keeping what each call computed: the encoder's
    output and initial state, and every step's trace and logits."""

    def __init__(self, model: Seq2Seq):
        super().__init__(model)
        self.enc: EncoderOutput | None = None
        self.initial: DecoderState | None = None
        self.steps: list[tuple[StepTrace, torch.Tensor]] = []

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        memory, self.initial, self.enc = self.model.encode(src, src_lengths)
        return memory, self.initial

    def step(self, tokens: torch.Tensor, state, memory):
        logits, state, weights, trace = self.model.decoder.traced_step(tokens, state, memory)
        self.steps.append((trace, logits))
        return logits, state, weights


class Recording:
    """A Stepper that keeps the logits and weights each step returned."""

    def __init__(self, stepper: Stepper):
        self.stepper, self.has_attention = stepper, stepper.has_attention
        self.steps: list[tuple[torch.Tensor, torch.Tensor | None]] = []

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor) -> tuple[Memory, Rows]:
        return self.stepper.encode(src, src_lengths)

    def step(self, tokens: torch.Tensor, state: Rows, memory: Memory
             ) -> tuple[torch.Tensor, Rows, torch.Tensor | None]:
        logits, state, weights = self.stepper.step(tokens, state, memory)
        self.steps.append((logits, weights))
        return logits, state, weights


def explain(translator: Translator, sentence: str) -> Explanation:
    """Translate one sentence greedily with the weights `translator` decodes with (its
    precision or int8 copy; an ensemble's members' copies), recording every intermediate value."""
    sub, d = translator.subwords, translator.cfg.decode
    src_ids = sub.encode_src([" ".join(sentence.split())])[0]
    if len(src_ids) > MAX_EXPLAIN_SUBWORDS:  # every step prints vectors and a row per source token
        raise SeqattnError(f"explain walks through one short sentence: this one is {len(src_ids):,} "
                           f"subwords (at most {MAX_EXPLAIN_SUBWORDS}); explain a shorter one, or "
                           "use translate --attention-out for long input")
    batch = make_batch([src_ids], None, [0]).to(translator.device)
    members = getattr(translator, "members", None)
    tracers = [TracingStepper(m.decoding_model()) for m in (members or [translator])]
    stepper = Recording(EnsembleStepper(tracers, translator.rule) if members else tracers[0])
    with torch.inference_mode():
        hyp = GreedySearch(max_len_a=d.max_len_a, max_len_b=d.max_len_b).run(
            stepper, batch.src, batch.src_lengths)[0]
        probs = [torch.softmax(logits[0].float(), -1) for logits, _ in stepper.steps]
    as_np = lambda t: None if t is None else t[0, 0].float().cpu().numpy()  # noqa: E731
    traces = [t for t, _ in tracers[0].steps] if not members else [None] * len(probs)
    steps: list[Step] = []
    for (_, w), t, p, token in zip(stepper.steps, traces, probs, hyp.tokens):
        top_p, top_i = p.topk(5)
        inner = [None] * 4 if t is None else [as_np(x) for x in (t.query, t.scores, t.attention_value,
                                                                 t.attentional)]
        steps.append(Step(
            inner[0], inner[1], None if w is None else w[0].float().cpu().numpy(), inner[2], inner[3],
            [(sub.tgt_pieces([int(i)])[0], float(q)) for q, i in zip(top_p, top_i)],
            sub.tgt_pieces([token])[0], steps[-1].chosen if steps else "<s>"))
    ex = Explanation(
        sentence=sentence, src_ids=src_ids + [EOS_ID], src_tokens=sub.src_pieces(src_ids) + ["</s>"],
        src_embedding_shape=None, tgt_embedding_shape=None, encoder_states=None, context_vector=None,
        initial_state=None, steps=steps, output_text=translator.candidate(hyp).text,
        weights=translator.weights_label, members=list(translator.names) if members else [],
        attention_type=", ".join(m.cfg.model.attention.type for m in (members or [translator])))
    if not members:
        enc, hidden, model_cfg = tracers[0].enc, tracers[0].initial.hidden, translator.cfg.model
        h0 = hidden[0] if isinstance(hidden, tuple) else hidden
        ex.src_embedding_shape = (*batch.src.shape, model_cfg.encoder.emb_size)
        ex.tgt_embedding_shape = (1, 1, model_cfg.decoder.emb_size)
        ex.encoder_states = enc.states[0].float().cpu().numpy()
        ex.context_vector = enc.context_vector[0].float().cpu().numpy()
        ex.initial_state = h0[:, 0].float().cpu().numpy()
    return ex


def display_width(text: str) -> int:
    """Terminal columns `text` takes (Hangul and other wide characters count 2)."""
    width = wcswidth(text)
    return width if width >= 0 else len(text)


def pad(text: str, width: int) -> str:
    """`text` padded with spaces to `width` terminal columns (not characters)."""
    return text + " " * max(0, width - display_width(text))


def format_text(ex: Explanation, width: int = 20) -> str:
    """The walk-through as plain terminal text; columns align by display width."""
    col = max([12] + [display_width(t) for t in ex.src_tokens])
    out = [f"Input: {ex.sentence}", f"Weights: {ex.weights}, as translate decodes with them", "",
           "1. Subwords (SentencePiece; ▁ starts a word) and their ids:"]
    out += [f"   {i:>5}  {tok}" for i, tok in zip(ex.src_ids, ex.src_tokens)]
    if ex.encoder_states is None:
        out += ["", f"2.-4. {_members(ex)}"]
    else:
        out += ["", f"2. Embeddings: source {ex.src_embedding_shape} (batch, src_len, emb); each "
                f"decoder step embeds one token {ex.tgt_embedding_shape}.", "",
                f"3. Encoder hidden states h1..h{len(ex.src_tokens)}, each {ex.encoder_states.shape[1:]}:"]
        out += [f"   {pad(f'h{i + 1}', 4)} {pad(tok, col)} {_preview(h)}" for i, (tok, h) in
                enumerate(zip(ex.src_tokens, ex.encoder_states))]
        out += ["", f"4. Context vector (the encoder's final state), shape {ex.context_vector.shape}: "
                f"{_preview(ex.context_vector)}",
                f"   -> decoder initial state, shape {ex.initial_state.shape}: {_preview(ex.initial_state)}"]
    out += ["", f"5. Decoding, one token at a time (attention: {ex.attention_type}; {ex.formula}):"]
    for n, s in enumerate(ex.steps, start=1):
        query = "" if s.query is None else f" -> query s_{n} {s.query.shape} {_preview(s.query)}"
        out.append(f"   step {n}: input {s.fed}{query}")
        if s.weights is not None and s.scores is None:
            out.append(f"     {pad('source token', col)}   alpha")
            for tok, w in zip(ex.src_tokens, s.weights):
                out.append(f"     {pad(tok, col)}   {w:.3f} {BAR * int(round(w * width))}")
        elif s.weights is not None:
            out.append(f"     {pad('source token', col)} {'score':>8}   alpha")
            for tok, sc, w in zip(ex.src_tokens, s.scores, s.weights):
                out.append(f"     {pad(tok, col)} {sc:+8.3f}   {w:.3f} {BAR * int(round(w * width))}")
            out.append(f"     attention value {s.attention_value.shape} {_preview(s.attention_value)}")
            out.append(f"     combined state tanh(W[s; a]) {_preview(s.attentional)}")
        top = ", ".join(f"{tok} {p:.2f}" for tok, p in s.top)
        out.append(f"     top-5 next tokens: {top}")
        out.append(f"     chosen: {s.chosen}")
    out += ["", f"Output: {ex.output_text}"]
    return "\n".join(out)


def _members(ex: Explanation) -> str:
    """What an ensemble's walk-through leaves out, and why."""
    return (f"An ensemble of {len(ex.members)} members ({', '.join(ex.members)}): each has its own "
            "embeddings, encoder states, context vector and per-step vectors; explain one member's run "
            "to see them. Below, each step's top tokens and choice are the ensemble's, its attention "
            "the members' mean.")


def _md(text: str) -> str:
    """Text for a markdown table cell: markdown's special characters escaped, never code."""
    return "".join("\\" + c if c in "\\`*_[]<>|#~" else c for c in text) or " "


def _table(header: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A markdown table: header row, separator row (`align`: one 'l'/'r' per column), rows."""
    align = align or "l" * len(header)
    sep = ["---:" if a == "r" else "---" for a in align]
    return ["| " + " | ".join(r) + " |" for r in [header, sep, *rows]]


def format_markdown(ex: Explanation) -> str:
    """The walk-through as markdown with real tables, and the heatmap embedded as a PNG."""
    from seqattn.viz import draw_heatmap, figure_bytes

    md = [f"# How the model translates “{_md(ex.sentence)}”", "",
          f"Weights: {ex.weights}, as translate decodes with them.", "", "## 1. Subwords", "",
          "SentencePiece splits the sentence into subwords (▁ starts a word); each has an id.", ""]
    md += _table(["#", "id", "subword"], [[str(k + 1), str(i), _md(t)] for k, (i, t) in
                                          enumerate(zip(ex.src_ids, ex.src_tokens))], "rrl")
    if ex.encoder_states is None:
        md += ["", "## 2.-4. The members", "", _md(_members(ex))]
    else:
        md += ["", "## 2. Embeddings", "", f"Source {ex.src_embedding_shape} (batch, src_len, emb); each "
               f"decoder step embeds one token {ex.tgt_embedding_shape}.", "",
               "## 3. Encoder hidden states", ""]
        md += _table(["h", "subword", "first values"], [[f"h{k + 1}", _md(t), _preview(h)] for k, (t, h) in
                                                        enumerate(zip(ex.src_tokens, ex.encoder_states))])
        md += ["", "## 4. Context vector", "",
               f"The encoder's final state, shape {ex.context_vector.shape}: {_preview(ex.context_vector)}; "
               f"the decoder's initial state, shape {ex.initial_state.shape}: {_preview(ex.initial_state)}."]
    md += ["", "## 5. Decoding, one token at a time", "",
           f"Attention: {ex.attention_type}, {_md(ex.formula)}; alpha = softmax of the scores.", ""]
    for n, s in enumerate(ex.steps, start=1):
        md += [f"### Step {n}: input {_md(s.fed)} → chosen {_md(s.chosen)}", ""]
        if s.query is not None:
            md += [f"Query s_{n} {s.query.shape}: {_preview(s.query)}", ""]
        if s.weights is not None and s.scores is None:
            md += _table(["source subword", "alpha"], [[_md(t), f"{w:.3f}"] for t, w in
                                                        zip(ex.src_tokens, s.weights)], "lr") + [""]
        elif s.weights is not None:
            md += _table(["source subword", "score", "alpha"],
                         [[_md(t), f"{sc:+.3f}", f"{w:.3f}"] for t, sc, w in
                          zip(ex.src_tokens, s.scores, s.weights)], "lrr")
            md += ["", f"Attention value {s.attention_value.shape}: {_preview(s.attention_value)}; "
                   f"combined state tanh(W[s; a]): {_preview(s.attentional)}", ""]
        md += _table(["next token", "probability"], [[_md(t), f"{p:.2f}"] for t, p in s.top], "lr")
        md.append("")
    md += [f"**Output:** {_md(ex.output_text)}", ""]
    if ex.attention is not None:
        tgt = [s.chosen for s in ex.steps]
        png = figure_bytes(draw_heatmap(ex.attention, ex.src_tokens, tgt, ex.sentence,
                                        translation=ex.output_text))
        md += ["## Attention, all steps", "",
               f"![attention heatmap](data:image/png;base64,{base64.b64encode(png).decode()})", ""]
    return "\n".join(md)
