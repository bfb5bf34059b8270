"""The studio's endpoints: `POST /v1/explain` (one translation, step by step) and
`POST /v1/score` (forced decoding: how probable is this output?). Both run on the model's
worker thread, between translation batches."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from fastapi import FastAPI

from seqattn.deploy.translator import NO_INTERNALS
from seqattn.errors import SeqattnError
from seqattn.explain import MAX_EXPLAIN_SUBWORDS, Explanation, explain
from seqattn.serve.registry import ModelSlot, member_labels
from seqattn.serve.schemas import ExplainRequest, ExplainResponse, ScoreRequest, ScoreResponse

MAX_SCORE_CHARS = 1000  # characters per source and per target


def _floats(x: np.ndarray | None, digits: int = 5) -> list | None:
    if x is None:
        return None
    clean = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.round(clean, digits).tolist()


def explanation_body(name: str, ex: Explanation) -> dict[str, Any]:
    """An Explanation as the API's ExplainResponse (full vectors, rounded)."""
    return {
        "model": name, "text": ex.sentence, "search": "greedy", "attention_type": ex.attention_type,
        "formula": ex.formula, "src_tokens": ex.src_tokens, "src_ids": [int(i) for i in ex.src_ids],
        "encoder_states": _floats(ex.encoder_states), "context_vector": _floats(ex.context_vector),
        "initial_state": _floats(ex.initial_state), "output": ex.output_text,
        "members": member_labels(ex.members),
        "steps": [{"fed": s.fed, "query": _floats(s.query), "scores": _floats(s.scores),
                   "weights": _floats(s.weights), "attention_value": _floats(s.attention_value),
                   "attentional": _floats(s.attentional), "chosen": s.chosen,
                   "top": [{"token": t, "p": round(float(p), 6)} for t, p in s.top]}
                  for s in ex.steps],
    }


def check_length(field: str, text: str, limit: int, api_error: type[Exception]) -> None:
    """A 422 for a text over `limit` characters or with a lone surrogate (not valid Unicode)."""
    if len(text) > limit:
        raise api_error(422, f"{field} is {len(text)} characters long (at most {limit})")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise api_error(422, f"{field} is not valid Unicode (a lone surrogate)") from None


def add_studio_routes(app: FastAPI, slots: Mapping[str, ModelSlot], errors: dict,
                      pick: Callable[[str | None], ModelSlot], api_error: type[Exception]) -> None:
    """Add /v1/explain and /v1/score; `pick(name)` finds a model (404 for an unknown one)."""

    def check_text(field: str, text: str) -> None:
        if not text.strip():
            raise api_error(422, f"{field} is empty: send some text, e.g. \"저는 AI를 좋아합니다\"")
        check_length(field, text, MAX_SCORE_CHARS, api_error)

    @app.post("/v1/explain", response_model=ExplainResponse, responses=errors,  # type: ignore[arg-type]
              summary="Walk through one translation step by step")
    async def explain_route(req: ExplainRequest) -> dict[str, Any]:
        """The model's own numbers for one sentence, decoded greedily: its subwords, encoder
        states h_j, context vector and, per output step, the token fed in, the query s_t, the
        raw scores (with the model's score formula), the weights, the attention value, the
        combined state and the five most probable next tokens."""
        check_text("text", req.text)
        slot = pick(req.model)
        if slot.info.exported:
            raise api_error(422, f"model '{slot.name}': {NO_INTERNALS.format(what='explain')}")
        try:
            ex = await slot.batcher.call(lambda: explain(slot.translator, req.text))  # (its own weights)
        except SeqattnError as exc:  # (too long)
            raise api_error(422, str(exc)) from None
        return explanation_body(slot.name, ex)

    @app.post("/v1/score", response_model=ScoreResponse, responses=errors,  # type: ignore[arg-type]
              summary="Score a given output for a source (forced decoding)")
    async def score_route(req: ScoreRequest) -> dict[str, Any]:
        """Force `target` through the model for `source`: the log-probability of each of its
        subwords, their sum (`logprob`, what greedy search reports), the length-normalised
        `score` beam search would give it, and the attention of each step. Use it to ask "why
        not this output?" or to rescore candidates."""
        check_text("source", req.source)
        check_text("target", req.target)
        slot = pick(req.model)
        try:
            r = (await slot.batcher.call(lambda: slot.translator.score([req.source], [req.target])))[0]
        except SeqattnError as exc:  # (too many subwords)
            raise api_error(422, str(exc)) from None
        return {"model": slot.name, "source": r.source, "target": r.target, "src_tokens": r.src_tokens,
                "tgt_tokens": r.tgt_tokens, "logprobs": [round(x, 6) for x in r.logprobs],
                "logprob": round(r.logprob, 6), "score": round(r.score, 6),
                "attention": _floats(r.attention, 4), "unknown": r.unknown}


__all__ = ["add_studio_routes", "check_length", "explanation_body", "MAX_EXPLAIN_SUBWORDS"]
