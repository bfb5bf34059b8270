"""The configuration reference (docs/CONFIG.md), written from the pydantic schema in config.py.

Every key's type, default, allowed range and meaning come from the schema itself (the field's
annotation, default, constraints and `Field(description=...)`; a section's text is its class
docstring), so the reference cannot drift from what `load_config` accepts.
`python scripts/config_reference.py` writes the file; tests/test_config_doc.py fails when it is stale.
"""

from __future__ import annotations

import functools
import inspect
import operator
import types
import typing
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from seqattn.config import Config

COMMAND = "python scripts/config_reference.py"

HEADER = f"""\
# Configuration reference

<!-- Written by `{COMMAND}` from src/seqattn/config.py; do not edit by hand. -->

A config is a YAML file with the sections `data`, `model`, `train`, `decode` and `eval`
(and a `name`). Only `data.train` is required; every other key has the default below.
`configs/` holds documented examples, the recipes shipped inside the package (`seqattn train
cmudict_g2p` names one by its file's name); `seqattn train` without a config trains the
Korean → English one, `tatoeba_koen`.

- Unknown keys are errors, with a "did you mean" for a near miss. Values are checked when the
  config is read: types, the ranges below, and combinations (e.g. `dot` attention needs the
  encoder's output size equal to `model.decoder.hidden_size`). A bad value is a one-line
  error naming the key.
- On the command line, any key can be overridden as `dotted.key=value`, the value read as
  YAML: `train.lr=5e-4`, `model.decoder.input_feeding=true`, `eval.metrics=[wer,per]`.
- `null` in YAML is Python's `None`: "not set".
- A run directory keeps the resolved config as `config.yaml`.
"""


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without `None`, whether `None` was allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) < len(typing.get_args(annotation)):
            return (args[0] if len(args) == 1 else functools.reduce(operator.or_, args)), True
    return annotation, False


def _model_class(annotation: Any) -> type[BaseModel] | None:
    inner, _ = _unwrap_optional(annotation)
    return inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None


def type_name(annotation: Any) -> str:
    """A field's type in YAML words: `int`, `float`, `bool`, `text`, a list of choices, `list of X`."""
    inner, optional = _unwrap_optional(annotation)
    origin, args = typing.get_origin(inner), typing.get_args(inner)
    if origin is Literal:
        name = " | ".join(f"`{a}`" for a in args)
    elif origin is list:
        name = f"list of {type_name(args[0])}"
    elif origin is tuple:
        name = "[" + ", ".join(type_name(a) for a in args) + "]"
    elif inner is str:
        name = "text"
    elif isinstance(inner, type):
        name = inner.__name__
    else:
        name = str(inner)
    return f"{name} or `null`" if optional else name


def _number(value: Any) -> str:
    """A default as YAML reads it back: `0.001`, `1e-5`, `1.0`, `2000000`."""
    if isinstance(value, float) and value != 0 and not 1e-3 <= abs(value) < 1e15:
        return format(value, "g").replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")
    return "0" if value == 0 else repr(value)


def _bound(value: float) -> str:
    """A range's end for reading: `10`, `0.5`, `1,000,000`."""
    return f"{int(value):,}" if float(value).is_integer() else _number(value)


def yaml_value(value: Any) -> str:
    """A default as it would be written in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, int | float):
        return _number(value)
    return str(value)


def default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    return f"`{yaml_value(value)}`"


_BOUNDS = ((at.Ge, "≥", "ge"), (at.Gt, ">", "gt"), (at.Le, "≤", "le"), (at.Lt, "<", "lt"),
           (at.MinLen, "at least", "min_length"), (at.MaxLen, "at most", "max_length"))


def constraints(field: FieldInfo) -> str:
    """The range a value must lie in, e.g. `≥ 0, < 1`; list lengths as `at least 1 item(s)`."""
    parts = []
    for meta in field.metadata:
        for kind, word, attr in _BOUNDS:
            if isinstance(meta, kind):
                bound = getattr(meta, attr)
                if attr in ("min_length", "max_length"):
                    parts.append(f"{word} {bound} item{'s' if bound != 1 else ''}")
                else:
                    parts.append(f"{word} {_bound(bound)}")
    return ", ".join(parts)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _row(key: str, kind: str, field: FieldInfo, meaning: str) -> str:
    return f"| `{key}` | {_cell(kind)} | {default_text(field)} | {constraints(field)} | {_cell(meaning)} |"


def _section(cls: type[BaseModel], keys: list[str], out: list[str]) -> None:
    """A heading and a table for `cls`'s own keys (under `keys[0]`; `keys[1:]` share them), then
    one section per nested model."""
    prefix = f"{keys[0]}."
    rows, nested = [], {}  # nested: model class -> the keys that hold it
    for name, field in cls.model_fields.items():
        sub, optional = _model_class(field.annotation), _unwrap_optional(field.annotation)[1]
        if sub is None:
            rows.append(_row(prefix + name, type_name(field.annotation), field, field.description or ""))
            continue
        first = sub not in nested
        nested.setdefault(sub, []).append(prefix + name)
        if first and not (field.is_required() or optional or field.description):
            continue  # a plain sub-section: its own heading says it all
        where = "below" if first else f"the same keys as `{nested[sub][0]}`"
        kind = f"a section ({where})" + (" or `null`" if optional else "")
        rows.append(_row(prefix + name, kind, field, field.description or ""))
    title = f"`{keys[0]}`" + (f" (and {', '.join(f'`{k}`' for k in keys[1:])})" if keys[1:] else "")
    out += ["", f"{'#' * min(2 + keys[0].count('.'), 4)} {title}", ""]
    if "__doc__" in cls.__dict__ and cls.__doc__:
        for paragraph in inspect.cleandoc(cls.__doc__).split("\n\n"):
            out += [" ".join(paragraph.split()), ""]
    if rows:
        out += ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|", *rows]
    for sub, sub_keys in nested.items():
        _section(sub, sub_keys, out)


def render() -> str:
    """The whole of docs/CONFIG.md, as text."""
    out = [HEADER.rstrip("\n"), "", "## Top level", "",
           "| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    sections = []
    for name, field in Config.model_fields.items():
        sub = _model_class(field.annotation)
        if sub is None:
            out.append(_row(name, type_name(field.annotation), field, field.description or ""))
        else:
            sections.append((sub, name))
    for sub, name in sections:
        _section(sub, [name], out)
    text = "\n".join(line.rstrip() for line in out)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip("\n") + "\n"
