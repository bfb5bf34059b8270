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

from seqattn.errors import SeqattnError

BUILTIN_PREFIX = "builtin:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class CorpusSpec(_Strict):
    """One split of a parallel corpus: two line-aligned files, or one TSV file."""

    src: str | None = None
    tgt: str | None = None
    tsv: str | None = None
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
    """Carve dev/test sets out of the training corpus when none are given (seeded)."""

    dev_size: int = Field(300, ge=1)
    test_size: int = Field(300, ge=1)
    seed: int = Field(1234, ge=0, lt=2**32)
    by_source: bool = Field(False, description="split by distinct source (all its references together); "
                            "sizes then count sources")


VocabType = Literal["bpe", "unigram", "char", "symbols"]


class SubwordConfig(_Strict):
    """How text becomes tokens: SentencePiece subwords (`bpe`, `unigram`), characters (`char`)
    or space-separated symbols (`symbols`); `type` for both sides unless `src_type`/`tgt_type`."""

    type: VocabType = "bpe"
    src_type: VocabType | None = None
    tgt_type: VocabType | None = None
    vocab_size: int = Field(8000, ge=16, le=1_000_000, description="char/symbols: the most tokens kept")
    joint: bool = True
    character_coverage: float = Field(1.0, gt=0.0, le=1.0)
    max_sentences: int = Field(2_000_000, ge=100, lt=2**31, description="sample bound for training SPM")

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
    train: CorpusSpec
    dev: CorpusSpec | None = None
    test: CorpusSpec | None = None
    split: SplitConfig = SplitConfig()
    src_lang: str = "src"
    tgt_lang: str = "tgt"
    subword: SubwordConfig = SubwordConfig()
    max_len: int = Field(100, ge=1, description="training pairs longer than this (subwords) are skipped")
    prepared: str | None = Field(None, description="folder of prepared (memory-mapped) training data")
    stream_above_mb: float | None = Field(256, gt=0, description="stream training files larger than this")

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
    rnn: Literal["lstm", "gru"] = "lstm"
    emb_size: int = Field(256, ge=1)
    hidden_size: int = Field(256, ge=1, description="per direction")
    layers: int = Field(1, ge=1)
    bidirectional: bool = True
    reverse_source: bool = False
    dropout: float = Field(0.3, ge=0.0, lt=1.0)

    @property
    def output_size(self) -> int:
        return self.hidden_size * (2 if self.bidirectional else 1)


class DecoderConfig(_Strict):
    rnn: Literal["lstm", "gru"] = "lstm"
    emb_size: int = Field(256, ge=1)
    hidden_size: int = Field(512, ge=1)
    layers: int = Field(1, ge=1)
    dropout: float = Field(0.3, ge=0.0, lt=1.0)
    input_feeding: bool = False
    tie_embeddings: bool = False


AttentionType = Literal["none", "dot", "general", "additive", "scaled_dot"]


class AttentionConfig(_Strict):
    type: AttentionType = "general"
    additive_size: int = Field(256, ge=1, description="hidden size of the additive (MLP) scorer")


class ModelConfig(_Strict):
    encoder: EncoderConfig = EncoderConfig()
    decoder: DecoderConfig = DecoderConfig()
    attention: AttentionConfig = AttentionConfig()
    param_init: float = Field(0.1, ge=0.0, le=10.0, description="uniform(-x, x) init; 0 = PyTorch's")

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
    type: Literal["constant", "plateau", "warmup_inverse_sqrt", "warmup_cosine"] = "plateau"
    warmup_steps: int = Field(0, ge=0)
    factor: float = Field(0.5, gt=0.0, lt=1.0, description="plateau: lr multiplier")
    patience: int = Field(2, ge=0, description="plateau: validations without gain")
    min_lr: float = Field(1e-5, ge=0.0)
    total_steps: int | None = Field(None, ge=1, description="cosine: steps to decay over")


class TrainConfig(_Strict):
    seed: int = Field(1, ge=0, lt=2**32, description="seeds initialisation, dropout and batch order")
    batch_size: int = Field(64, ge=1, description="sentences per batch")
    batch_tokens: int | None = Field(None, ge=1, description="token budget; overrides batch_size")
    max_steps: int | None = Field(None, ge=1)
    max_minutes: float | None = Field(None, gt=0)
    max_epochs: int | None = Field(None, ge=1)
    lr: float = Field(1e-3, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    clip_norm: float = Field(5.0, gt=0)
    label_smoothing: float = Field(0.1, ge=0.0, lt=1.0)
    scheduled_sampling: float = Field(0.0, ge=0.0, le=1.0, description="prob. of feeding predictions")
    schedule: ScheduleConfig = ScheduleConfig()
    val_every: int = Field(500, ge=1, description="validate every N steps")
    val_beam: int = Field(1, ge=1, description="beam for validation BLEU (1 = greedy)")
    val_max_sentences: int | None = Field(None, ge=1)
    early_stopping_patience: int | None = Field(8, ge=1, description="validations without gain")
    early_stopping_metric: Literal["bleu", "chrf", "wer", "per", "cer", "loss"] = "bleu"
    keep_checkpoints: int = Field(2, ge=1)
    log_every: int = Field(100, ge=1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"  # auto: bf16 where native (precision.py)
    loss_scaling: bool | None = Field(None, description="dynamic loss scaling (default: for fp16 only)")
    num_threads: int | None = Field(None, ge=1)
    samples: list[str] = Field(default_factory=list, description="sentences translated at the end")
    heatmaps: int = Field(3, ge=0, description="dev sentences drawn at each validation")
    test_examples: int = Field(5, ge=0, description="test sentences shown with their references at the end")
    dist_timeout_minutes: float = Field(30, gt=0, description="how long a process waits for the others")

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


class DecodeConfig(_Strict):
    beam: int = Field(5, ge=1, le=64)
    n_best: int = Field(1, ge=1)
    length_penalty: float = Field(1.0, ge=0.0, le=10.0, description="GNMT alpha; 0 = raw log-prob")
    max_len_a: float = Field(1.5, ge=0.0, le=10.0)
    max_len_b: int = Field(10, ge=1, le=1000)
    batch_size: int = Field(64, ge=1)


MetricName = Literal["bleu", "chrf", "wer", "per", "cer"]


class EvalConfig(_Strict):
    """What dev and test sets are scored with (see scoring.py)."""

    metrics: list[MetricName] = Field(default_factory=lambda: ["bleu", "chrf"], min_length=1)
    group_references: bool = Field(False, description="score lines with the same source as one source "
                                   "with several references (e.g. alternative pronunciations)")

    @model_validator(mode="after")
    def _distinct(self) -> EvalConfig:
        if len(set(self.metrics)) != len(self.metrics):
            raise ValueError("eval.metrics lists a metric twice")
        return self


class Config(_Strict):
    name: str = "run"
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


MAX_DEPTH = 16  # a config is at most five levels deep; more is a mistake or an attack


def _depth(value: Any) -> int:
    """How deeply lists and mappings nest in `value` (iteratively: no recursion limit)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level + 1)
            if level + 1 > MAX_DEPTH:
                break
            todo.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _check_depth(value: Any, where: str) -> None:
    if _depth(value) > MAX_DEPTH:
        raise SeqattnError(f"{where}: lists or mappings nested more than {MAX_DEPTH} levels deep "
                           "(a config needs at most five)")


MAX_NODES = 100_000  # values (scalars, lists, mappings) with aliases expanded; a config holds a few hundred


class _AliasBomb(Exception):
    """A YAML document whose aliases expand it too far; the message says how."""


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph that holds more than MAX_NODES nodes once every alias is expanded, or
    that contains itself. Iterative, with one count per distinct node: linear in the document."""
    sizes: dict[int, int] = {}  # id(node) -> expanded size, capped at MAX_NODES + 1
    open_nodes: set[int] = set()  # entered and not finished: the path from the root
    todo: list[tuple[yaml.Node, bool]] = [(root, False)]
    while todo:
        node, finished = todo.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = min(MAX_NODES + 1, 1 + sum(sizes[id(child)] for child in _children(node)))
            if sizes[key] > MAX_NODES:
                raise _AliasBomb(f"anchors and aliases (&name, *name) expand to more than {MAX_NODES:,} "
                                 "values (a 'billion laughs' document?); a config needs a few hundred")
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise _AliasBomb("an alias (*name) refers to a list or mapping that contains it")
        open_nodes.add(key)
        todo.append((node, True))
        todo.extend((child, False) for child in _children(node) if id(child) not in sizes)


class _BoundedLoader(yaml.SafeLoader):
    """yaml.SafeLoader that checks the composed node graph with `_check_expansion` before any
    Python object is built from it."""

    def get_single_node(self) -> yaml.Node | None:
        node = super().get_single_node()
        if node is not None:
            _check_expansion(node)
        return node


def _safe_load(text: str) -> Any:
    """`yaml.safe_load`, refusing alias bombs and self-containing documents (`_AliasBomb`)."""
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """Parse `key.sub=value` strings; values are read as YAML scalars (`5`, `true`, `1e-3`)."""
    parsed = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not p.isidentifier() for p in key.split(".")):
            raise SeqattnError(f"bad override '{item}': expected dotted.key=value, e.g. train.max_steps=100")
        try:
            value = _safe_load(raw) if raw != "" else None
        except yaml.YAMLError:
            value = raw
        except _AliasBomb as exc:
            raise SeqattnError(f"override '{key}': {exc}") from None
        except RecursionError:  # the parser itself recurses on deep nesting
            raise SeqattnError(f"override '{key}': value nested too deeply") from None
        _check_depth(value, f"override '{key}'")
        if isinstance(value, str):  # YAML 1.1 reads '1e-3' as text
            try:
                value = float(value)
            except ValueError:
                pass
        parsed.append((key, value))
    return parsed


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping with the safe loader; clear errors for missing or malformed files."""
    p = Path(path)
    if not p.is_file():
        raise SeqattnError(f"{p}: config file not found")
    try:
        tree = _safe_load(p.read_text(encoding="utf-8"))
    except _AliasBomb as exc:
        raise SeqattnError(f"{p}: {exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        raise SeqattnError(f"{p}:{line} not valid YAML") from exc
    except RecursionError:  # the parser itself recurses on deep nesting
        raise SeqattnError(f"{p}: lists or mappings nested too deeply to read") from None
    _check_depth(tree, str(p))
    if not isinstance(tree, dict):
        raise SeqattnError(f"{p}: expected a mapping of sections (data, model, train, decode)")
    return tree


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
