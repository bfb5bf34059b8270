"""Turn pydantic/FastAPI validation errors into one line a person can act on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from seqattn.limits import MAX_BEAM

EXAMPLE = '{"texts": ["Zwei Hunde spielen im Schnee."], "beam": 5}'
FIELDS = "texts, model, beam, n_best, attention, tree, prefix, sample, seed, temperature, top_k, top_p"
BODIES = {  # per endpoint: its fields and an example body
    "/v1/translate": (FIELDS, EXAMPLE),
    "/v1/score": ("source, target, model", '{"source": "저는 AI를 좋아합니다", "target": "I like AI."}'),
    "/v1/explain": ("text, model", '{"text": "저는 AI를 좋아합니다"}'),
    "/v1/attribute": ("text, method, model, output, contrast, steps, words",
                      '{"text": "저는 AI를 좋아합니다", "method": "integrated_gradients"}'),
}
EXPECTED = {
    "texts": 'a list of strings, e.g. ["Hallo Welt"]',
    "model": "a model name from GET /v1/models, or null for the default",
    "beam": f"an integer from 1 to {MAX_BEAM}, or null for the model's default",
    "n_best": "an integer from 1 to the beam size",
    "attention": "true or false",
    "tree": "true or false",
    "prefix": "a string, a list of strings (one per text), or null",
    "sample": "an integer from 1 to the sample limit, or null", "seed": "a whole number, or null",
    "temperature": "a number more than 0, or null", "top_k": "a whole number, 0 or more, or null",
    "top_p": "a number more than 0 and at most 1, or null",
    "source": "a string", "target": "a string", "text": "a string",
    "method": "a string: attention, saliency, input_x_gradient, integrated_gradients or occlusion",
    "output": "a string, or null for the model's own output", "contrast": "a string, or null",
    "steps": "a whole number from 1 to 1000", "words": "true or false",
}
SHOWN_ERRORS = 3


def _where(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        if part == "body" and not out:
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=True, default=str)  # ASCII: lone surrogates stay escaped
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_error(err: dict[str, Any], path: str = "/v1/translate") -> str:
    """One validation error as 'where: what is wrong (got ...); expected ...'; `path` says
    which endpoint's body it is."""
    fields, example = BODIES.get(path, BODIES["/v1/translate"])
    loc = tuple(err.get("loc", ()))
    kind, msg = err.get("type", ""), str(err.get("msg", "invalid"))
    body_level = [p for p in loc if p != "body"] == [] or kind == "json_invalid"
    if kind == "json_invalid":
        detail = (err.get("ctx") or {}).get("error", "")
        pos = loc[1] if len(loc) > 1 else None
        at = f" at character {pos}" if isinstance(pos, int) else ""
        return f"the request body is not valid JSON ({detail}{at}); send e.g. {example}"
    if body_level and kind == "missing":
        return f"the request body is missing: send a JSON object such as {example}"
    if body_level:
        return ("the request body must be a JSON object (Content-Type: application/json) such as "
                f"{example}; got {_short(err.get('input'))}")
    where = _where(loc)
    top = next((p for p in loc if p != "body"), "")
    if kind == "extra_forbidden":
        return f"{where}: unknown field (the fields are {fields})"
    if kind == "missing":
        return f"{where}: missing; expected {EXPECTED.get(str(top), 'a value')}"
    message = msg.removeprefix("Value error, ")
    expected = EXPECTED.get(str(top))
    text = f"{where}: {message} (got {_short(err.get('input'))})"
    return f"{text}; expected {expected}" if expected else text


def describe_validation_errors(errors: Sequence[dict[str, Any]], path: str = "/v1/translate"
                               ) -> tuple[str, list[dict[str, str]]]:
    """The one-line message (first few problems) and every problem as {'loc', 'msg'}."""
    lines = [describe_error(e, path) for e in errors] or ["the request is invalid"]
    message = "; ".join(lines[:SHOWN_ERRORS])
    if len(lines) > SHOWN_ERRORS:
        message += f" (and {len(lines) - SHOWN_ERRORS} more problems)"
    items = [{"loc": _where(e.get("loc", ())) or "body", "msg": line}
             for e, line in zip(errors, lines)]
    return message, items
