"""`POST /v1/attribute`: how much each source token matters to each output token, by attention
or an attribution method (`seqattn.attribution`), for the studio's Attribution view and API
users. The work runs on one of the model's two lanes' worker threads, like translations: the
ordinary lane, or the heavy one when its work is over the server's heavy-work threshold."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI

from seqattn.attribution import attribute, check_method, check_steps, torch_model
from seqattn.explain import MAX_EXPLAIN_SUBWORDS
from seqattn.serve.options import ServeOptions
from seqattn.serve.registry import ModelSlot
from seqattn.serve.schemas import AttributeRequest, AttributeResponse
from seqattn.serve.studio import check_length

MAX_ATTRIBUTE_CHARS = 1000  # characters per text, output and contrast


def attribution_work(method: str, steps: int, src_len: int, rows: int) -> int:
    """What an attribution costs, in the units of the server's --max-work (attention scores
    computed; a backward pass counts as one more forward pass). One forced pass costs `rows`
    decoder steps x `src_len`: attention is one pass; saliency and input x gradient one per
    output row, with its backward pass; integrated gradients that for each of `steps`;
    occlusion one pass per source token dropped, and the full one."""
    per_row = {"attention": 1, "saliency": 2 * rows, "input_x_gradient": 2 * rows,
               "integrated_gradients": 2 * rows * steps, "occlusion": src_len + 1}[method]
    return per_row * rows * src_len


def add_attribution_route(app: FastAPI, slots: Mapping[str, ModelSlot], opts: ServeOptions, errors: dict,
                          pick: Callable[[str | None], ModelSlot], api_error: type[Exception]) -> None:
    """Add /v1/attribute; `pick(name)` finds a model (404 for an unknown one)."""

    def check_chars(field: str, text: str | None) -> None:
        if text is not None:
            check_length(field, text, MAX_ATTRIBUTE_CHARS, api_error)

    def work(slot: ModelSlot, req: AttributeRequest) -> int:
        """The request's work; an upper bound for the model's own output (its length limit)."""
        sub = slot.translator.subwords
        src_len = len(sub.encode_src([" ".join(req.text.split())])[0]) + 1
        if src_len - 1 > MAX_EXPLAIN_SUBWORDS:  # (the library refuses it in its own words)
            return 0
        if req.output is None:
            rows = slot.output_limit(src_len)
        else:
            rows = len(sub.encode_tgt([" ".join(req.output.split())])[0]) + 1
        return attribution_work(req.method, req.steps, src_len, rows)

    @app.post("/v1/attribute", response_model=AttributeResponse, responses=errors,  # type: ignore[arg-type]
              summary="Attribute each output token to the source tokens")
    async def attribute_route(req: AttributeRequest) -> dict[str, Any]:
        """How much each source token matters to each output token of `output` (null: the model's
        own greedy output), by `method`: attention, saliency, input_x_gradient,
        integrated_gradients (`steps`) or occlusion; with `contrast`, for each output token rather
        than the contrast's token at the same position. Computed with the model's fp32 weights;
        not for ensembles or exported models."""
        for field in ("text", "output", "contrast"):
            check_chars(field, getattr(req, field))
        check_method(req.method)
        check_steps(req.steps)
        slot = pick(req.model)
        torch_model(slot.translator)  # (an ensemble or an exported model: refused in one line)
        cost = work(slot, req)
        if cost > opts.max_work:
            given = "" if req.output is not None else " (the model's own output counted at its length limit)"
            raise api_error(422, f"this attribution asks for up to {cost:,} units of work{given}; at most "
                            f"{opts.max_work:,}: give the output, fewer steps, or a shorter sentence")
        lane = slot.heavy if cost > opts.heavy_work else slot.batcher
        found = await lane.call(lambda: attribute(slot.translator, req.text, req.method, output=req.output,
                                                  contrast=req.contrast, steps=req.steps))
        body = (found.words() if req.words else found).to_dict()
        return {"model": slot.name, **body}


__all__ = ["add_attribution_route", "attribution_work"]
