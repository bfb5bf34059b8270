"""The FastAPI app: the translation API, model list, health check and the web page.

`create_app(...)` builds the app from run directories or loaded translators (tests use it);
`run_server(...)` loads run directories and serves them with uvicorn (`seqattn serve`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import resource
import socket
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from seqattn.choices import DEFAULT_ENSEMBLE_RULE
from seqattn.deploy.translator import NO_INTERNALS
from seqattn.errors import SeqattnError
from seqattn.limits import MAX_BEAM
from seqattn.serve.assets import STATIC_DIR, PageFiles, add_docs_and_icon
from seqattn.serve.attribute import add_attribution_route
from seqattn.serve.batcher import QueueFull, ShuttingDown
from seqattn.serve.guards import BodyLimit, Deadline, Gate, guarded_protocol, quiet_accept_errors
from seqattn.serve.guards import error_response as _error
from seqattn.serve.options import ServeOptions
from seqattn.serve.registry import ModelSlot, load_translators, make_slots, name_translators
from seqattn.serve.schemas import ErrorBody, Health, Limits, ModelList, TranslateRequest, TranslateResponse
from seqattn.serve.studio import add_studio_routes
from seqattn.serve.training_maps import add_training_map_routes
from seqattn.serve.validation import EXAMPLE, describe_validation_errors
from seqattn.translator import Sampling, Translator, text_seeds
from seqattn.version import __version__

log = logging.getLogger("seqattn.serve")
MAX_TREE_TEXTS = 4


class ApiError(Exception):
    """A client error with its HTTP status and a message a person can act on."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def pick_model(slots: Mapping[str, ModelSlot], name: str | None) -> ModelSlot:
    """The model called `name` (None: the first); 404 naming the loaded ones otherwise."""
    name = name if name is not None else next(iter(slots))
    if name not in slots:
        raise ApiError(404, f"unknown model '{name}'; loaded models: {', '.join(slots)} "
                       "(see GET /v1/models)")
    return slots[name]


def check_request(req: TranslateRequest, slots: Mapping[str, ModelSlot], opts: ServeOptions
                  ) -> tuple[ModelSlot, int, int, Sampling | None]:
    """The checks pydantic can't do (limits, model name, n_best vs the beam, prefixes,
    sampling); returns the model, the beam, the request's work (beam or samples x output limit
    x source length, summed) and the sampling settings (None: search)."""
    if not req.texts:
        raise ApiError(422, 'texts is empty: send at least one sentence, e.g. {"texts": ["Hallo Welt"]}')
    if len(req.texts) > opts.max_texts:
        raise ApiError(422, f"too many texts: {len(req.texts)} (at most {opts.max_texts} per request; "
                       "split them over several requests)")
    for i, text in enumerate(req.texts):
        if len(text) > opts.max_chars:
            raise ApiError(422, f"texts[{i}] is {len(text)} characters long (at most {opts.max_chars}; "
                           "split it into sentences)")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ApiError(422, f"texts[{i}] is not valid Unicode (it holds a lone surrogate "
                           "escape such as \\ud800)") from None
    slot = pick_model(slots, req.model)
    plan = slot.sampling(req)
    beam = 1 if plan else req.beam if req.beam is not None else slot.info.default_beam
    if req.n_best > beam:
        raise ApiError(422, f"n_best ({req.n_best}) must not exceed the beam size ({beam}): ask for "
                       "fewer hypotheses or a larger beam")
    lengths = slot.source_lengths(req.texts)
    rows = plan.samples if plan else beam
    work = sum(rows * slot.output_limit(n) * n for n in lengths)  # attention scores computed
    if work > opts.max_work:
        raise ApiError(422, f"this request asks for up to {work:,} units of work (beam x output length "
                       f"x source length, summed over texts; at most {opts.max_work:,}): send fewer or "
                       "shorter texts, or a smaller beam")
    if req.attention and slot.info.architecture.attention == "none":
        raise ApiError(422, f"model '{slot.name}' has no attention (model.attention.type: none): "
                       "ask without \"attention\", or choose a model with attention")
    if req.tree and slot.info.exported:
        raise ApiError(422, f"model '{slot.name}': {NO_INTERNALS.format(what='beam trees')}")
    if req.tree and len(req.texts) > MAX_TREE_TEXTS:
        raise ApiError(422, f"a search tree is returned for at most {MAX_TREE_TEXTS} texts per request "
                       f"(got {len(req.texts)})")
    if req.prefix is not None:
        slot.check_prefix(req.texts, req.prefix)  # (one line, the words translate uses)
    cells = sum(max(req.n_best, rows if plan else 1) * slot.output_limit(n) * n for n in lengths) \
        if req.attention else 0
    if cells > opts.max_attention_cells:
        raise ApiError(422, f"the attention matrices asked for could hold {cells:,} weights (at most "
                       f"{opts.max_attention_cells:,}): ask without attention, for fewer hypotheses, "
                       "or send fewer texts")
    return slot, beam, work, plan


def create_app(models: Sequence[str | Path | Translator] | Mapping[str, Translator],
               options: ServeOptions | None = None, *, device: str = "auto", precision: str = "fp32",
               quantize: str | None = None, ensemble_rule: str = DEFAULT_ENSEMBLE_RULE,
               **kwargs: Any) -> FastAPI:
    """The app serving `models`: run directories, translators (an `Ensemble` among them), or
    {name: translator}; the `ensembles` option adds run directories served as one model.

    Options are a ServeOptions or its fields as keywords. The first model is the default.
    """
    opts = ServeOptions.of(options, **kwargs)
    items = list(models.values() if isinstance(models, Mapping) else models)
    if not isinstance(models, Mapping) and all(isinstance(m, (str, Path)) for m in items):
        translators = load_translators(items, device, precision, quantize,  # type: ignore[arg-type]
                                       opts.ensembles, ensemble_rule)
    elif opts.ensembles:
        raise SeqattnError("the ensembles option takes run directories: give the models as paths, or "
                           "pass seqattn.ensemble.Ensemble translators")
    else:
        translators = name_translators(models if isinstance(models, Mapping) else items)  # type: ignore[arg-type]
    if not translators:
        raise SeqattnError("no model to serve: give at least one run directory")
    slots = make_slots(translators, opts.batcher_options(), opts.heavy_options())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        quiet_accept_errors(asyncio.get_running_loop())
        yield
        for slot in slots.values():
            await slot.batcher.close()
            await slot.heavy.close()

    app = FastAPI(
        title="seqattn translation server",
        version=__version__,
        description="Translate with RNN encoder-decoder models with attention. The web page is at /.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's own /docs and /redoc load from a CDN; add_docs_and_icon serves it offline
        redoc_url=None,
    )
    app.state.slots = slots
    app.state.options = opts
    _add_error_handlers(app)
    app.add_middleware(BodyLimit, limit=max(1 << 20, 12 * opts.max_texts * opts.max_chars))
    if opts.api_key or opts.allowed_hosts:
        app.add_middleware(Gate, api_key=opts.api_key, allowed_hosts=opts.allowed_hosts)
    app.add_middleware(Deadline, seconds=opts.request_timeout_s)  # (added last: outermost)

    errors = {400: {"model": ErrorBody, "description": "The body could not be parsed (not UTF-8, too deep)"},
              422: {"model": ErrorBody, "description": "The request is malformed or out of limits"},
              404: {"model": ErrorBody, "description": "Unknown model"},
              413: {"model": ErrorBody, "description": "The request body is too large"},
              401: {"model": ErrorBody, "description": "The server wants an API key (--api-key)"},
              503: {"model": ErrorBody, "description": "Busy: retry after the Retry-After header's seconds"}}

    @app.post("/v1/translate", response_model=TranslateResponse, responses=errors,  # type: ignore[arg-type]
              summary="Translate sentences")
    async def translate(req: TranslateRequest) -> Response:
        """Translate `texts`; each result has the n-best hypotheses with scores, subwords and,
        when `attention` is true, each hypothesis's attention matrix."""
        slot, beam, work, plan = check_request(req, slots, opts)
        tokens = slot.count_tokens(req.texts)
        lane = slot.heavy if work > opts.heavy_work else slot.batcher  # big requests never block small
        prefixes = [req.prefix] * len(req.texts) if isinstance(req.prefix, str) else req.prefix
        drawn = None if plan is None else (plan.samples, plan.temperature, plan.top_k, plan.top_p)
        seeds = None if plan is None else text_seeds(plan, len(req.texts))  # (positions in this request)
        body = await lane.submit(req.texts, (beam, req.n_best, req.tree, drawn), tokens,
                                 (req.attention, prefixes, seeds))
        return Response(body, media_type="application/json")

    add_studio_routes(app, slots, errors, lambda name: pick_model(slots, name), ApiError)
    add_attribution_route(app, slots, opts, errors, lambda name: pick_model(slots, name), ApiError)
    add_training_map_routes(app, slots, lambda name: pick_model(slots, name), ApiError)

    @app.get("/v1/models", response_model=ModelList, summary="List the loaded models")
    async def list_models() -> ModelList:
        return ModelList(default=next(iter(slots)), models=[s.info for s in slots.values()])

    @app.get("/healthz", response_model=Health, summary="Liveness, limits and batcher counters")
    async def healthz() -> Health:
        return Health(status="ok", models=list(slots),
                      limits=Limits(max_texts=opts.max_texts, max_chars=opts.max_chars, max_beam=MAX_BEAM),
                      batching={name: {"enabled": opts.batching, **s.batcher.stats.as_dict()}
                                for name, s in slots.items()},
                      heavy={name: s.heavy.stats.as_dict() for name, s in slots.items()})

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", PageFiles(directory=STATIC_DIR), name="static")
    add_docs_and_icon(app, app.title)
    _document_limits(app, opts)
    return app


def _document_limits(app: FastAPI, opts: ServeOptions) -> None:
    """Put this server's request limits into the OpenAPI schema of TranslateRequest."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        texts = schema["components"]["schemas"]["TranslateRequest"]["properties"]["texts"]
        texts.update(minItems=1, maxItems=opts.max_texts)
        texts["items"]["maxLength"] = opts.max_chars
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, items = describe_validation_errors(exc.errors(), request.url.path)
        return _error(422, message, errors=items)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        if exc.status_code == 400 and "parsing the body" in detail:  # FastAPI: not UTF-8, too deep, ...
            detail = f"the request body could not be parsed: send UTF-8 JSON such as {EXAMPLE}"
        return _error(exc.status_code, detail, headers=exc.headers)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(SeqattnError)
    async def _seqattn_error(_: Request, exc: SeqattnError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(QueueFull)
    async def _busy(_: Request, exc: QueueFull) -> JSONResponse:
        return _error(503, str(exc), headers={"Retry-After": str(exc.retry_after)})

    @app.exception_handler(ShuttingDown)
    async def _closing(_: Request, exc: ShuttingDown) -> JSONResponse:
        return _error(503, str(exc), headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        return _error(500, f"internal server error ({type(exc).__name__}); see the server log")


def _check_address(host: str, port: int) -> None:
    """Fail early, with a clear message, when the address can't be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise SeqattnError(f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                               "(is another server running there? use another --port)") from None


def is_loopback(host: str) -> bool:
    """Whether `host` is a loopback address (or 'localhost')."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def run_server(run_dirs: Sequence[str | Path], options: ServeOptions | None = None, *, device: str = "auto",
               precision: str = "fp32", quantize: str | None = None,
               ensemble_rule: str = DEFAULT_ENSEMBLE_RULE, **kwargs: Any) -> int:
    """Load the run directories and serve them until interrupted (the `seqattn serve` verb).
    Options are a ServeOptions or its fields as keywords (`host`, `port`, ...)."""
    import uvicorn

    opts = ServeOptions.of(options, **kwargs)
    host, port = opts.host, opts.port
    _check_address(host, port)  # before the slow model loading
    if not is_loopback(host) and not (opts.api_key or opts.allowed_hosts):
        print(f"seqattn: warning: --host {host} serves every machine that can reach this one, "
              "with no API key or Host allow-list (--api-key, --allow-host)", file=sys.stderr)
    app = create_app(list(run_dirs), opts, device=device, precision=precision, quantize=quantize,
                     ensemble_rule=ensemble_rule)
    names = ", ".join(app.state.slots)
    shown = f"[{host}]" if ":" in host else host
    print(f"seqattn: serving {names} at http://{shown}:{port}/  (API docs: /docs; Ctrl-C stops)",
          file=sys.stderr)
    uvicorn.run(app, host=host, port=port, log_level=opts.log_level, limit_concurrency=opts.max_connections,
                timeout_keep_alive=opts.idle_timeout_s,
                http=guarded_protocol(opts.header_timeout_s, _open_connection_cap(opts.max_connections)))
    return 0


def _open_connection_cap(max_connections: int) -> int:
    """How many sockets may be open at once: 4x the request limit, within the file descriptors
    this process may hold (its soft limit raised to the hard one first)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        want = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return max(8, min(4 * max_connections, soft - 64))  # (64 kept for model files, logs, the loop)
