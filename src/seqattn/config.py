"""Typed, validated configuration: pydantic models read from YAML, with dotted overrides.

Every knob of data, model, training and decoding lives here, with its default and its
limits, so that a bad value fails at load time with a message naming the key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from seqattn.choices import Device, PrecisionChoice
from seqattn.errors import SeqattnError
from seqattn.limits import MAX_BEAM, MAX_LENGTH_PENALTY, MAX_OUTPUT_TOKENS, MAX_SAMPLES, MAX_SEED
from seqattn.safe_yaml import parse_overrides, read_yaml  # noqa: F401 (read_yaml: part of this API)

BUILTIN_PREFIX = "builtin:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class CorpusSpec(_Strict):
    """One split of a parallel corpus: two line-aligned files (`src`, `tgt`; plain or `.gz`), or one
    TSV file (`tsv`; extra columns ignored). `builtin:tatoeba-kor-eng`, `builtin:cmudict` and
    `builtin:korean-romanization` name the data shipped with seqattn. Relative paths are relative
    to the working directory."""

    src: str | None = Field(None, description="source side: one sentence a line")
    tgt: str | None = Field(None, description="target side, line for line with src")
    tsv: str | None = Field(None, description="one TSV file holding both sides (instead of src and tgt)")
    src_column: int = Field(1, ge=0, description="TSV column of the source side (0-based)")
    tgt_column: int = Field(0, ge=0, description="TSV column of the target side (0-based)")
    tgt_strip_digits: bool = Field(False, description="delete digits from the target side as it is read "
                                   "(ARPAbet stress marks: EY1 -> EY)")

    @model_validator(mode="after")
    def _one_layout(self) -> CorpusSpec:
        if self.tsv is None and (self.src is None or self.tgt is None):
            raise ValueError("give either 'tsv' or both 'src' and 'tgt'")
        if self.tsv is not None and (self.src is not None or self.tgt is not None):
            raise ValueError("give either 'tsv' or 'src'+'tgt', not both")
        if self.tsv is not None and self.src_column == self.tgt_column:
            raise ValueError("src_column and tgt_column must differ")
        return self


class SplitConfig(_Strict):
    """When `data.dev` is absent, dev and test sets are carved out of `data.train`, seeded."""

    dev_size: int = Field(300, ge=1, description="dev pairs (sources, with by_source)")
    test_size: int = Field(300, ge=1, description="test pairs (sources, with by_source)")
    seed: int = Field(1234, ge=0, lt=2**32, description="which pairs are set aside")
    by_source: bool = Field(False, description="split by distinct source instead of by line: all lines of a "
                            "source (a word's pronunciations) land in one split")


VocabType = Literal["bpe", "unigram", "char", "symbols"]


class SubwordConfig(_Strict):
    """How text becomes tokens: SentencePiece subwords (`bpe`, `unigram`), characters (`char`)
    or space-separated symbols (`symbols`); `type` for both sides unless `src_type`/`tgt_type`."""

    type: VocabType = Field("bpe", description="`bpe`, `unigram`: SentencePiece; `char`: every character "
                            "a token, spaces included, no normalisation; `symbols`: space-separated "
                            "symbols such as phonemes, each a token")
    src_type: VocabType | None = Field(None, description="the source side's type, when it differs (needs "
                                       "joint: false); e.g. `char` for G2P")
    tgt_type: VocabType | None = Field(None, description="the target side's type; e.g. `symbols` for G2P")
    vocab_size: int = Field(8000, ge=16, le=1_000_000, description="pieces per SentencePiece model (a soft "
                            "limit on small corpora); `char`: the most frequent characters kept, the rest "
                            "read as <unk>; `symbols`: more distinct symbols than this is an error")
    joint: bool = Field(True, description="one vocabulary for both sides, or one per side")
    character_coverage: float = Field(1.0, gt=0.0, le=1.0, description="SentencePiece's character coverage")
    max_sentences: int = Field(2_000_000, ge=100, lt=2**31, description="sentences sampled to train "
                               "SentencePiece on")

    @property
    def types(self) -> tuple[str, str]:
        """The source and target vocabulary types."""
        return self.src_type or self.type, self.tgt_type or self.type

    @model_validator(mode="after")
    def _joint_needs_one_type(self) -> SubwordConfig:
        src, tgt = self.types
        if self.joint and src != tgt:
            raise ValueError(f"a joint vocabulary needs one type on both sides (source {src}, target "
                             f"{tgt}); set data.subword.joint: false")
        return self


class DataConfig(_Strict):
    """The corpus and how it becomes tokens."""

    train: CorpusSpec = Field(description="the training corpus")
    dev: CorpusSpec | None = Field(None, description="validation set; absent: dev and test are carved "
                                   "out of train (data.split). A dev or test TSV that does not set its "
                                   "columns or tgt_strip_digits reads them as data.train does")
    test: CorpusSpec | None = Field(None, description="test set, scored when training ends")
    split: SplitConfig = SplitConfig()
    src_lang: str = Field("src", description="source language label")
    tgt_lang: str = Field("tgt", description="target language label")
    subword: SubwordConfig = SubwordConfig()
    max_len: int = Field(100, ge=1, description="training pairs longer than this (tokens, either side) are "
                         "skipped and counted; empty pairs too")
    prepared: str | None = Field(None, description="folder of prepared training data (`seqattn prepare`) "
                                 "to stream from; prepared first when missing or out of date")
    stream_above_mb: float | None = Field(256, gt=0, description="without data.prepared: prepare "
                                          "RUN_DIR/prepared and stream when the training files are larger "
                                          "than this, as text (`null`: never)")

    @model_validator(mode="after")
    def _dev_and_test_read_like_train(self) -> DataConfig:
        """A dev or test TSV that does not say its columns (or digit stripping) reads them as
        the training TSV does: `data.dev.tsv=my_dev.tsv` is enough."""
        for split in (self.dev, self.test):
            if split is None or split.tsv is None or self.train.tsv is None:
                continue
            for key in ("src_column", "tgt_column", "tgt_strip_digits"):
                if key not in split.model_fields_set:
                    object.__setattr__(split, key, getattr(self.train, key))
        return self


class EncoderConfig(_Strict):
    rnn: Literal["lstm", "gru"] = Field("lstm", description="the recurrent cell")
    emb_size: int = Field(256, ge=1, description="source embedding size")
    hidden_size: int = Field(256, ge=1, description="per direction")
    layers: int = Field(1, ge=1, description="stacked layers")
    bidirectional: bool = Field(True, description="read the source both ways; the output is then "
                                "2 x hidden_size")
    reverse_source: bool = Field(False, description="read the source backwards (Sutskever et al. 2014); "
                                 "attention maps stay in source order")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="on embeddings, between layers and on the states")

    @property
    def output_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)


class DecoderConfig(_Strict):
    rnn: Literal["lstm", "gru"] = Field("lstm", description="the recurrent cell")
    emb_size: int = Field(256, ge=1, description="target embedding size")
    hidden_size: int = Field(512, ge=1, description="also the attentional hidden size")
    layers: int = Field(1, ge=1, description="stacked layers")
    dropout: float = Field(0.3, ge=0.0, lt=1.0, description="on embeddings, between layers and on the "
                           "attentional states")
    input_feeding: bool = Field(False, description="feed the last attentional state back in (Luong et al. "
                                "2015); needs attention; uses the step-by-step path")
    tie_embeddings: bool = Field(False, description="share the target embedding and the output weights "
                                 "(needs emb_size equal to hidden_size)")


AttentionType = Literal["none", "dot", "general", "additive", "scaled_dot"]


class AttentionConfig(_Strict):
    type: AttentionType = Field("general", description="the score function; `none`: no attention, the "
                                "context vector only")
    additive_size: int = Field(256, ge=1, description="hidden size of the additive (MLP) scorer")


class ModelConfig(_Strict):
    """The network. The encoder's final state (the context vector) becomes the decoder's first state
    through a learned linear + tanh bridge when sizes or directions differ, the identity otherwise."""

    encoder: EncoderConfig = EncoderConfig()
    decoder: DecoderConfig = DecoderConfig()
    attention: AttentionConfig = AttentionConfig()
    param_init: float = Field(0.1, ge=0.0, le=10.0, description="initialise every weight uniformly in "
                              "[-x, x] (0: PyTorch's defaults, whose N(0, 1) embeddings train far slower "
                              "on the reference configuration)")

    @model_validator(mode="after")
    def _compatible(self) -> ModelConfig:
        enc_out, dec = self.encoder.output_size, self.decoder.hidden_size
        if self.attention.type in ("dot", "scaled_dot") and enc_out != dec:
            raise ValueError(
                f"'{self.attention.type}' attention needs decoder.hidden_size ({dec}) equal to "
                f"the encoder output size ({enc_out} = hidden_size x directions); "
                "use 'general' or 'additive' attention, or change the sizes"
            )
        if self.decoder.input_feeding and self.attention.type == "none":
            raise ValueError("decoder.input_feeding needs attention (attention.type is 'none')")
        if self.decoder.tie_embeddings and self.decoder.emb_size != dec:
            raise ValueError(
                f"decoder.tie_embeddings needs decoder.emb_size ({self.decoder.emb_size}) "
                f"equal to decoder.hidden_size ({dec})"
            )
        return self


class ScheduleConfig(_Strict):
    type: Literal["constant", "plateau", "warmup_inverse_sqrt", "warmup_cosine"] = Field(
        "plateau", description="`plateau`: lower the rate when the early-stopping metric stops improving")
    warmup_steps: int = Field(0, ge=0, description="linear warm-up")
    factor: float = Field(0.5, gt=0.0, lt=1.0, description="plateau: multiply the rate by this after more "
                          "than `patience` validations without gain")
    patience: int = Field(2, ge=0, description="plateau: validations without gain")
    min_lr: float = Field(1e-5, ge=0.0, description="floor (plateau) and end point (cosine)")
    total_steps: int | None = Field(None, ge=1, description="cosine: steps to decay over (`null`: "
                                    "train.max_steps)")


class TrainConfig(_Strict):
    seed: int = Field(1, ge=0, lt=2**32, description="seeds initialisation, dropout and batch order")
    batch_size: int = Field(64, ge=1, description="sentences per batch")
    batch_tokens: int | None = Field(None, ge=1, description="token budget per batch (padded size); "
                                     "overrides batch_size")
    max_steps: int | None = Field(None, ge=1, description="stop cleanly (final validation, checkpoint, test "
                                  "scores) at the first of max_steps, max_minutes, max_epochs reached")
    max_minutes: float | None = Field(None, gt=0, description="minutes of training (see max_steps)")
    max_epochs: int | None = Field(None, ge=1, description="passes over the training data (see max_steps)")
    lr: float = Field(1e-3, gt=0, description="Adam's learning rate")
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam's betas")
    weight_decay: float = Field(0.0, ge=0, description="Adam's weight decay")
    clip_norm: float = Field(5.0, gt=0, description="gradient-norm clipping")
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0, description="label smoothing of the training loss")
    scheduled_sampling: float = Field(0.0, ge=0.0, le=1.0, description="probability of feeding the model's "
                                      "own prediction instead of the reference token")
    schedule: ScheduleConfig = ScheduleConfig()
    val_every: int = Field(500, ge=1, description="validate (dev loss, perplexity, eval.metrics) and save "
                           "a checkpoint every N steps")
    val_beam: int = Field(1, ge=1, le=MAX_BEAM, description="beam for validation BLEU (1 = greedy)")
    val_max_sentences: int | None = Field(None, ge=1, description="validate on the first N dev pairs "
                                          "(`null`: all)")
    early_stopping_patience: int | None = Field(8, ge=1, description="stop after N validations without "
                                                "gain (`null`: never)")
    early_stopping_metric: Literal["bleu", "chrf", "wer", "per", "cer", "loss"] = Field(
        "bleu", description="error rates and loss: lower is better; scored at each validation even when "
                            "not in eval.metrics")
    keep_checkpoints: int = Field(2, ge=1, description="checkpoints kept in checkpoints/")
    log_every: int = Field(100, ge=1, description="steps between log lines and metrics.csv rows")
    device: Device = Field("auto", description="`auto`: CUDA when present; "
                                                   "--device overrides")
    precision: PrecisionChoice = Field(  # auto: bf16 where native (precision.py)
        "auto", description="`auto`: bf16 autocast where a probe at start-up finds bf16 native (a bf16 "
        "LSTM trains and the hardware has bf16 instructions: CPUs with AVX512-BF16 or AMX, GPUs from "
        "sm80), else fp32; `bf16` is an error naming the missing capability where the hardware cannot "
        "run it, a warning where it is only emulated; `fp16`: CUDA only, with loss scaling")
    loss_scaling: bool | None = Field(None, description="dynamic loss scaling: the scale halves on overflow "
                                      "and doubles after 2,000 clean steps, kept in checkpoints (`null`: "
                                      "for fp16 only)")
    num_threads: int | None = Field(None, ge=1, description="CPU threads per process (`null`: torch's "
                                    "default; one per process with --nproc)")
    samples: list[str] = Field(default_factory=list, description="sentences translated and printed at the "
                               "end")
    heatmaps: int = Field(3, ge=0, description="at each validation, draw the attention of the first N dev "
                          "sentences into attention/step_N/ and TensorBoard (0: off)")
    test_examples: int = Field(5, ge=0, description="test sentences (evenly spread) printed at the end "
                               "with their references and translations")
    dist_timeout_minutes: float = Field(30, gt=0, description="data-parallel runs: how long a process "
                                        "waits for the others before the job fails")

    @property
    def schedule_end(self) -> int | None:
        """The step a decaying schedule ends at: `schedule.total_steps`, else `max_steps`."""
        return self.schedule.total_steps or self.max_steps

    @model_validator(mode="after")
    def _schedule_has_an_end(self) -> TrainConfig:
        if self.schedule.type == "warmup_cosine" and self.schedule_end is None:
            raise ValueError("schedule.type 'warmup_cosine' needs train.schedule.total_steps "
                             "or train.max_steps (the steps to decay over)")
        return self


class SamplingConfig(_Strict):
    """Drawing outputs from the model's distribution instead of searching (`docs/DECODING.md`)."""

    samples: int = Field(0, ge=0, le=MAX_SAMPLES, description="outputs drawn per input; 0 decodes by "
                         "search (greedy or beam); `translate --sample N` overrides")
    temperature: float = Field(1.0, gt=0.0, description="log-probabilities are divided by it before "
                               "drawing: below 1 sharper, above 1 flatter")
    top_k: int = Field(0, ge=0, description="draw among the k most probable tokens only; 0: all")
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="draw among the fewest most probable tokens "
                         "whose probability reaches p (nucleus sampling); 1: all")
    seed: int = Field(0, ge=0, le=MAX_SEED, description="the same seed draws the same samples, one by one "
                      "or batched (each input's generator is seeded from the seed and its position)")


class DecodeConfig(_Strict):
    beam: int = Field(5, ge=1, le=MAX_BEAM, description="beam size (1 = greedy); --beam overrides")
    n_best: int = Field(1, ge=1, description="hypotheses returned per sentence")
    length_penalty: float = Field(1.0, ge=0.0, le=MAX_LENGTH_PENALTY, description="GNMT alpha: scores are "
                                  "log-prob / ((5 + length) / 6)^alpha; 0 = raw log-prob")
    max_len_a: float = Field(1.5, ge=0.0, le=10.0, description="output limit: a x source length + b "
                             f"subwords, rounded up; no output passes {MAX_OUTPUT_TOKENS:,} subwords")
    max_len_b: int = Field(10, ge=1, le=1000, description="see max_len_a")
    batch_size: int = Field(64, ge=1, description="sentences per decoding batch")
    sampling: SamplingConfig = SamplingConfig()


MetricName = Literal["bleu", "chrf", "wer", "per", "cer"]


class EvalConfig(_Strict):
    """How dev and test sets are scored."""

    metrics: list[MetricName] = Field(
        default_factory=lambda: ["bleu", "chrf"], min_length=1,
        description="what dev and test sets are scored with (validation, metrics.csv, TensorBoard, "
        "results.json, `seqattn evaluate`, whose --metrics overrides): `bleu`, `chrf` (sacreBLEU); `wer` "
        "(percent of outputs equal to none of their references); `per` (edit distance over space-separated "
        "symbols to the closest reference, over its length); `cer` (the same over characters)")
    group_references: bool = Field(False, description="score lines with the same source as one source "
                                   "with several references (e.g. alternative pronunciations); "
                                   "`evaluate --group-references` overrides")

    @model_validator(mode="after")
    def _distinct(self) -> EvalConfig:
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("eval.metrics lists a metric twice")
        return self


class Config(_Strict):
    name: str = Field("run", description="the default run directory is runs/NAME-TIME")
    data: DataConfig
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()
    decode: DecodeConfig = DecodeConfig()
    eval: EvalConfig = EvalConfig()

    @property
    def scored_metrics(self) -> list[str]:
        """`eval.metrics`, plus the early-stopping metric when it is not among them."""
        extra = self.train.early_stopping_metric
        return [*self.eval.metrics, *([extra] if extra not in ("loss", *self.eval.metrics) else [])]


# ----------------------------------------------------------------------------- loading


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic class that holds the field at `loc` (for 'did you mean')."""
    cls: type[BaseModel] = Config
    for part in loc[:-1]:
        field = cls.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        candidates = [ann, *getattr(ann, "__args__", ())]
        nxt = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
        if nxt is None:
            return None
        cls = nxt
    return cls


def _explain(err: ValidationError, source: str) -> SeqattnError:
    first = err.errors()[0]
    loc = tuple(p for p in first["loc"] if not isinstance(p, int) or p >= 0)
    key = ".".join(str(p) for p in loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        cls = _model_at(loc)
        names = list(cls.model_fields) if cls else []
        close = difflib.get_close_matches(str(loc[-1]), names, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(names)})"
        return SeqattnError(f"{source}: unknown key '{key}'{hint}")
    msg = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(err.errors()) - 1} more problems)" if len(err.errors()) > 1 else ""
    return SeqattnError(f"{source}: {key}: {msg}{more}")


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise SeqattnError(f"override '{dotted}': '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def build_config(tree: dict[str, Any], overrides: list[str] = (), source: str = "config") -> Config:
    """Validate a raw mapping (plus dotted overrides) into a Config."""
    tree = yaml.safe_load(yaml.safe_dump(tree))  # deep copy of plain data
    for key, value in parse_overrides(list(overrides)):
        _set_dotted(tree, key, value)
    try:
        return Config.model_validate(tree)
    except ValidationError as exc:
        raise _explain(exc, source) from None


def load_config(path: str | Path, overrides: list[str] = ()) -> Config:
    """Read `path` (YAML) and apply `key=value` overrides."""
    return build_config(read_yaml(path), overrides, source=str(path))


def dump_config(cfg: Config) -> str:
    """The config as YAML text (the resolved form saved in a run directory)."""
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
