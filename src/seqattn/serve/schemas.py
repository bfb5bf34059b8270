"""The HTTP API's request and response bodies (pydantic models; they also make the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from seqattn.attribution import MAX_STEPS, METHODS, SUMMARIES
from seqattn.limits import MAX_BEAM
from seqattn.serve.options import ServeOptions


class TranslateRequest(BaseModel):
    """Sentences to translate and how. Types are strict: `"beam": "5"` is an error, not 5."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        json_schema_extra={
            "examples": [{"texts": ["Zwei Hunde spielen im Schnee."], "beam": 5, "n_best": 2,
                          "attention": True}],
        },
    )

    texts: list[str] = Field(
        ..., description="Sentences to translate, one result each, in order. At least one; the "
        f"server limits how many (default {ServeOptions.max_texts}) and how long each may be (default "
        f"{ServeOptions.max_chars} characters).")
    model: str | None = Field(
        None, description="Name of a loaded model (see GET /v1/models); default: the first one.")
    beam: int | None = Field(
        None, ge=1, le=MAX_BEAM, description="Beam size, 1 = greedy; default: the model's decode.beam.")
    n_best: int = Field(1, ge=1, le=MAX_BEAM,
                        description="Hypotheses per sentence, best first; at most beam.")
    attention: bool = Field(False, description="Also return each hypothesis's attention matrix.")
    tree: bool = Field(False, description="Also return the beam search's tree: every candidate of "
                       "every step, kept, finished or pruned, with its score and attention row "
                       "(at most 4 texts per request).")
    prefix: str | list[str] | None = Field(
        None, description="How each output starts: one string for every text, or one per text (an empty "
        "string: none). Search continues from its tokens, whose log-probabilities count in the score.")
    sample: int | None = Field(
        None, description="Draw this many outputs per text from the model's distribution instead of "
        "searching (hypotheses in the order drawn, each scored by its log-probability); null: the model's "
        "decode.sampling.samples (0: search). Not with a beam, n_best or a tree.")
    seed: int | None = Field(None, description="The same seed draws the same samples for the same texts, "
                             "whatever else is batched with them; default: decode.sampling.seed.")
    temperature: float | None = Field(None, description="Sampling: log-probabilities divided by it "
                                      "(more than 0); default: decode.sampling.temperature.")
    top_k: int | None = Field(None, description="Sampling: draw among the k most probable tokens (0: all).")
    top_p: float | None = Field(None, description="Sampling: draw among the fewest most probable tokens "
                                "reaching probability p, in (0, 1] (1: all).")


class TreeNode(BaseModel):
    """One candidate of one beam-search step."""

    id: int = Field(description="Node id; 0 is the start (<s>), which is not listed.")
    parent: int = Field(description="The node this candidate extends.")
    step: int = Field(description="Output position, from 0.")
    token: str = Field(description="The subword this candidate adds.")
    score: float | None = Field(description="Cumulative log-probability of the candidate.")
    status: str = Field(description="'kept' (continues in the beam), 'finished' (ended: EOS or the "
                        "length limit) or 'pruned' (dropped).")
    attention: list[float] | None = Field(description="The parent's attention over the source at "
                                          "this step.")


class Hypothesis(BaseModel):
    """One output candidate."""

    text: str
    score: float | None = Field(description="Length-normalised log-probability (higher is better).")
    tgt_tokens: list[str] = Field(description="Output subwords; '</s>' last when the model ended.")
    attention: list[list[float]] | None = Field(
        None, description="Weights, one row per target token and one column per source token; rows "
        "sum to 1. Present only when asked for and the model has attention.")


class TranslationResult(BaseModel):
    """All hypotheses for one input text."""

    source: str
    src_tokens: list[str] = Field(description="Source subwords the encoder read, '</s>' last.")
    truncated: bool = Field(description="True when the source was cut to the model's length limit.")
    unknown: int = Field(0, description="Source tokens outside the model's vocabulary, read as <unk>.")
    hypotheses: list[Hypothesis]
    tree: list[TreeNode] | None = Field(None, description="The search tree, when asked for.")


class TranslateResponse(BaseModel):
    model: str
    beam: int
    n_best: int
    sample: int | None = Field(None, description="Outputs drawn per text, when sampled (null: searched).")
    results: list[TranslationResult]


class EncoderInfo(BaseModel):
    rnn: str
    hidden_size: int
    layers: int
    bidirectional: bool


class DecoderInfo(BaseModel):
    rnn: str
    hidden_size: int
    layers: int
    input_feeding: bool


class Architecture(BaseModel):
    encoder: EncoderInfo
    decoder: DecoderInfo
    attention: str
    parameters: int


class ModelInfo(BaseModel):
    name: str
    src_lang: str
    tgt_lang: str
    src_vocab_size: int
    tgt_vocab_size: int
    default_beam: int
    device: str
    exported: bool = Field(False, description="Loaded from a folder written by `seqattn export` (ONNX "
                           "Runtime): it translates and scores, but offers no step-by-step internals "
                           "(/v1/explain, beam trees, training's pictures).")
    architecture: Architecture
    members: list[str] = Field(default_factory=list, description="An ensemble's runs (their folders' "
                               "basenames), combined per step (empty for one model); `architecture` "
                               "describes the first, `attention` is the members' mean.")
    examples: list[str] = Field(
        default_factory=list, description="Example inputs in the model's source language: the run's "
        "train.samples, else the first lines of its dev set (empty when neither is at hand).")


class ModelList(BaseModel):
    default: str
    models: list[ModelInfo]


class Limits(BaseModel):
    max_texts: int
    max_chars: int
    max_beam: int


class Health(BaseModel):
    status: str
    models: list[str]
    limits: Limits
    batching: dict[str, dict[str, int | float | bool]] = Field(
        description="Per model: counters of the request batcher (requests, batches, queued, ...).")
    heavy: dict[str, dict[str, int | float]] = Field(
        default_factory=dict, description="Per model: the same counters for the heavy-request lane.")


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong and how to fix it, in one line.")
    errors: list[dict] | None = Field(None, description="Each field problem, for validation errors.")


class ScoreRequest(BaseModel):
    """A source and an output to score for it (forced decoding)."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={
        "examples": [{"source": "저는 AI를 좋아합니다", "target": "I like AI."}]})

    source: str = Field(..., description="The input sentence.")
    target: str = Field(..., description="The output to score, e.g. a reference or an alternative.")
    model: str | None = Field(None, description="Name of a loaded model; default: the first one.")


class ScoreResponse(BaseModel):
    model: str
    source: str
    target: str
    src_tokens: list[str] = Field(description="Source subwords, '</s>' last.")
    tgt_tokens: list[str] = Field(description="Target subwords, '</s>' last.")
    logprobs: list[float] = Field(description="Log-probability of each target subword, given the source "
                                  "and the target subwords before it.")
    logprob: float = Field(description="Their sum: what greedy search reports as a hypothesis' score.")
    score: float = Field(description="logprob / ((5 + length) / 6) ** alpha with the model's "
                         "decode.length_penalty: what beam search reports for this output.")
    attention: list[list[float]] | None = Field(description="One row per target subword; null "
                                                "without attention.")
    unknown: int = Field(description="Source and target tokens outside the vocabularies.")


class ExplainRequest(BaseModel):
    """One sentence to walk through."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={
        "examples": [{"text": "저는 AI를 좋아합니다"}]})

    text: str = Field(..., description="The sentence (at most 100 subwords).")
    model: str | None = Field(None, description="Name of a loaded model; default: the first one.")


class TopToken(BaseModel):
    token: str
    p: float


class ExplainStep(BaseModel):
    fed: str = Field(description="The token fed in at this step (<s> first).")
    query: list[float] | None = Field(description="s_t, the decoder state that queries the source "
                                      "(null for an ensemble: each member has its own).")
    scores: list[float] | None = Field(description="Raw attention score of s_t against each h_j.")
    weights: list[float] | None = Field(description="softmax(scores): the attention weights alpha.")
    attention_value: list[float] | None = Field(description="sum_j alpha_j h_j.")
    attentional: list[float] | None = Field(description="The attention value combined with s_t.")
    top: list[TopToken] = Field(description="The five most probable next tokens.")
    chosen: str = Field(description="The token chosen (the most probable: greedy).")


class ExplainResponse(BaseModel):
    model: str
    text: str
    search: str = Field(description="'greedy': the trace follows greedy search.")
    attention_type: str
    formula: str = Field(description="The score function of this model's attention type.")
    src_tokens: list[str]
    src_ids: list[int]
    encoder_states: list[list[float]] | None = Field(description="h_1..h_n, one row per source token "
                                                     "(null for an ensemble, as the vectors below).")
    context_vector: list[float] | None
    initial_state: list[list[float]] | None = Field(description="The decoder's initial state, per layer.")
    members: list[str] = Field(default_factory=list, description="An ensemble's runs (empty for one "
                               "model); its weights are the members' mean.")
    steps: list[ExplainStep]
    output: str


class AttributeRequest(BaseModel):
    """One sentence, and the output whose tokens to attribute to its source tokens."""

    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra={
        "examples": [{"text": "저는 AI를 좋아합니다", "method": "integrated_gradients",
                      "output": "I like AI."}]})

    text: str = Field(..., description="The source sentence (at most 100 subwords).")
    method: str = Field(..., description="How importance is measured: " + "; ".join(
        f"{name}: {what}" for name, what in SUMMARIES.items()) + ".",
        json_schema_extra={"enum": list(METHODS)})
    model: str | None = Field(None, description="Name of a loaded model; default: the first one.")
    output: str | None = Field(
        None, description="The output to attribute, forced through the model (at most 100 subwords); "
        "null: the model's own greedy output.")
    contrast: str | None = Field(
        None, description="Contrastive: attribute log p(output token) - log p(this text's token at the "
        "same position), given the same output prefix; rows where the two tokens are equal, or past the "
        "contrast's end, score 0.")
    steps: int = Field(
        50, description=f"Integrated gradients' interpolation steps, 1 to {MAX_STEPS} (ignored by the "
        "other methods).", json_schema_extra={"minimum": 1, "maximum": MAX_STEPS})
    words: bool = Field(False, description="Roll subwords up to whole words: a word's column sums its "
                        "pieces' columns, its row sums its pieces' rows (attention's rows are averaged, so "
                        "each still sums to 1).")


class AttributionSettings(BaseModel):
    steps: int | None = Field(description="Integrated gradients' steps (null for the other methods).")
    baseline: str | None = Field(description="Integrated gradients' baseline (null for the other methods).")
    objective: str = Field(description="What each row's score explains.")
    output: str = Field(description="'greedy' (the model's own output) or 'forced' (the output given).")
    weights: str = Field(description="The weights the gradients were taken with ('fp32').")


class AttributeResponse(BaseModel):
    model: str
    method: str
    source: str
    output: str = Field(description="The attributed output's text.")
    units: str = Field(description="'subwords', or 'words' when rolled up.")
    src_tokens: list[str] = Field(description="Source tokens (columns), '</s>' last.")
    tgt_tokens: list[str] = Field(description="Output tokens (rows), '</s>' last.")
    scores: list[list[float | None]] = Field(
        description="One row per output token, one column per source token: the importance of that source "
        "token for that output token (signed for input_x_gradient, integrated_gradients and occlusion; "
        "integrated gradients' rows sum to the objective's change from the baseline).")
    contrast_tokens: list[str] | None = Field(description="The contrast's tokens, '</s>' last; null when "
                                              "not contrastive.")
    contrasted: list[bool] | None = Field(description="Per row: whether a different contrast token was "
                                          "compared there (the other rows score 0).")
    settings: AttributionSettings
