"""Fuzzing what users hand seqattn: configs and overrides, corpus files, run directories.

`SEQATTN_FUZZ_SCALE=10 pytest tests/test_fuzz_inputs.py --hypothesis-show-statistics` runs
ten times the examples of the CI run.

Every generated input is either accepted and works, or refused with a `SeqattnError` of one
line; nothing else may escape (no traceback, no hang, no other exception type).
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from seqattn.config import Config, CorpusSpec, build_config
from seqattn.data.corpus import read_corpus
from seqattn.errors import SeqattnError
from seqattn.train import train
from seqattn.translator import Translator
from tests.conftest import tiny_tree
from tests.train.runs import threads_restored

SCALE = float(os.environ.get("SEQATTN_FUZZ_SCALE", "1"))  # e.g. 10 for a longer campaign


def fuzz(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def schema_fields(model: type[BaseModel] = Config, prefix: str = "") -> dict:
    """Every dotted key of the config schema, leaves and sections, with its pydantic field."""
    fields = {}
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        fields[key] = field
        for option in getattr(field.annotation, "__args__", (field.annotation,)):
            if isinstance(option, type) and issubclass(option, BaseModel):
                fields |= schema_fields(option, key + ".")
    return fields


def plausible(field) -> st.SearchStrategy:
    """Values of the field's own kind near its default: most of them valid."""
    kind, default = field.annotation, field.get_default(call_default_factory=True)
    if isinstance(default, BaseModel):  # a whole section: as written in YAML
        default = default.model_dump(mode="json")
    options = getattr(kind, "__args__", ())
    if options and all(isinstance(o, str) for o in options):  # a Literal
        return st.sampled_from(options)
    if kind is bool:
        return st.booleans()
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(0, 2 * default + 3)
    if isinstance(default, float):
        return st.floats(0.0, 2 * default + 1.0)
    return st.just(None if default is PydanticUndefined else default)


def schema_keys() -> list[str]:
    return list(schema_fields())


CORPUS_KEYS = ("data.train", "data.dev", "data.test", "data.prepared")  # (the corpus has its own fuzzer)
KEYS = [k for k in schema_keys() if not k.startswith(CORPUS_KEYS)]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 3, 7, 64, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, 0.5, 1.0, 1e-3, -1.0]),
    st.text(max_size=12), st.sampled_from(["lstm", "gru", "general", "dot", "additive", "none", "bpe",
                                           "unigram", "plateau", "warmup_cosine", "auto", "fp32"]))
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3), st.dictionaries(st.text(max_size=5), SCALARS,
                                                                             max_size=2))


def _one_line(exc: SeqattnError) -> None:
    assert str(exc) and "\n" not in str(exc).strip(), str(exc)


@pytest.fixture(scope="module")
def fuzz_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@fuzz(60)
@given(changes=st.lists(st.sampled_from(KEYS).flatmap(lambda k: st.tuples(
    st.just(k), st.one_of(VALUES, plausible(schema_fields()[k]), plausible(schema_fields()[k])))),
    min_size=1, max_size=3))
def test_configs_are_accepted_and_train_a_step_or_refused_in_one_line(fuzz_folder, changes):
    tree = tiny_tree(fuzz_folder / "data")
    tree["train"].update(max_steps=1, val_every=1, heatmaps=0, samples=[], test_examples=1)
    overrides = [f"{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
                 for key, value in changes]
    try:
        cfg = build_config(tree, overrides)
    except SeqattnError as exc:
        _one_line(exc)
        event("config refused")
        return
    if cfg.train.device == "cuda" and not torch.cuda.is_available():
        return
    run = fuzz_folder / "runs" / str(abs(hash(tuple(overrides))))
    shutil.rmtree(run, ignore_errors=True)
    with threads_restored():
        try:
            train(cfg.model_copy(update={"train": cfg.train.model_copy(update={"max_steps": 1})}), run)
            event("config accepted, trained a step")
        except SeqattnError as exc:  # e.g. a model too large for memory, a vocabulary too small
            _one_line(exc)
            event("config accepted, refused while setting up")


GZIP_OF = st.binary(max_size=400).map(gzip.compress)
CORRUPT = st.tuples(GZIP_OF, st.integers(0, 500), st.binary(min_size=1, max_size=8)).map(
    lambda t: t[0][: t[1]] + t[2] + t[0][t[1] + len(t[2]):])
LINES = st.lists(st.text(max_size=30), max_size=8).map(
    lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass"))
CONTENT = st.one_of(st.binary(max_size=400), LINES, GZIP_OF, CORRUPT, LINES.map(gzip.compress))
ALIGNED = st.integers(0, 6).flatmap(lambda n: st.tuples(  # two sides of n lines of odd text each
    *[st.lists(st.text(max_size=20), min_size=n, max_size=n).map(
        lambda ls: "".join(x + "\n" for x in ls).encode("utf-8", "surrogatepass")) for _ in range(2)]))
PAIRS = st.one_of(st.tuples(CONTENT, CONTENT), ALIGNED, ALIGNED.map(lambda p: tuple(map(gzip.compress, p))))


@fuzz(200)
@given(pair=PAIRS, gz=st.booleans(), tsv=st.booleans())
def test_corpus_readers_read_or_refuse_in_one_line(tmp_path, pair, gz, tsv):
    src, tgt = pair
    suffix = ".gz" if gz else ""
    (tmp_path / f"a.src{suffix}").write_bytes(src)
    (tmp_path / f"a.tgt{suffix}").write_bytes(tgt)
    spec = (CorpusSpec(tsv=str(tmp_path / f"a.src{suffix}")) if tsv else
            CorpusSpec(src=str(tmp_path / f"a.src{suffix}"), tgt=str(tmp_path / f"a.tgt{suffix}")))
    try:
        text = read_corpus(spec)
    except SeqattnError as exc:
        _one_line(exc)
        event("corpus refused")
        return
    event("corpus read")
    assert len(text.src) == len(text.tgt)
    assert all(isinstance(s, str) and "\n" not in s for s in text.src + text.tgt)


def _mutate(data: bytes, how: str, where: float, junk: bytes) -> bytes:
    at = int(where * len(data))
    flipped = bytes([(data[at:at + 1] or b"\0")[0] ^ 0xFF])
    return {"truncate": data[:at], "flip": data[:at] + flipped + data[at + 1:], "append": data + junk,
            "replace": junk, "empty": b"", "insert": data[:at] + junk + data[at:]}[how]


@fuzz(60)
@given(name=st.sampled_from(["config.yaml", "spm.model", "model.safetensors"]),
       how=st.sampled_from(["truncate", "flip", "append", "replace", "empty", "insert", "delete"]),
       where=st.floats(0, 1), junk=st.binary(min_size=1, max_size=64))
def test_run_directories_load_or_are_refused_in_one_line(trained_run, tmp_path, name, how, where, junk):
    run = tmp_path / "run"
    if not run.exists():
        skip = shutil.ignore_patterns("checkpoints", "tensorboard", "attention")
        shutil.copytree(trained_run, run, ignore=skip)
    target = run / name
    original = (trained_run / name).read_bytes()
    try:
        if how == "delete":
            target.unlink()
        else:
            target.write_bytes(_mutate(original, how, where, junk))
        try:
            translator = Translator.load(run, device="cpu")
        except SeqattnError as exc:
            _one_line(exc)
            event("run refused")
            return
        event("run loaded and translated")
        result = translator.translate(["alpha beta gamma"], beam=2)
        assert isinstance(result[0].text, str)
    finally:
        target.write_bytes(original)


def test_the_fuzzers_reach_the_whole_schema():
    wanted = {"model.encoder.hidden_size", "train.schedule.type", "decode.beam", "data.subword.vocab_size"}
    assert wanted <= set(KEYS) and not any(k.startswith(CORPUS_KEYS) for k in KEYS)
