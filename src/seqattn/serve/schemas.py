"""The HTTP API's request and response bodies (pydantic models; they also make the OpenAPI schema)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_BEAM = 64  # the translator's own limit


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
        "server limits how many (default 64) and how long each may be (default 1000 characters).")
    model: str | None = Field(
        None, description="Name of a loaded model (see GET /v1/models); default: the first one.")
    beam: int | None = Field(
        None, ge=1, le=MAX_BEAM, description="Beam size, 1 = greedy; default: the model's decode.beam.")
    n_best: int = Field(1, ge=1, le=MAX_BEAM,
                        description="Hypotheses per sentence, best first; at most beam.")
    attention: bool = Field(False, description="Also return each hypothesis's attention matrix.")


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


class TranslateResponse(BaseModel):
    model: str
    beam: int
    n_best: int
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
    architecture: Architecture
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


class ErrorBody(BaseModel):
    detail: str = Field(description="What is wrong and how to fix it, in one line.")
    errors: list[dict] | None = Field(None, description="Each field problem, for validation errors.")
