"""Routes that need no model: the page's files, the offline API docs (/docs) and the favicon.

Swagger UI's script and stylesheet come from the `swagger-ui-bundle-v2` package and are
served from /docs-assets/, so /docs renders with no network beyond this server.

The page's scripts (static/*.js) are ES modules, which browsers run only when served with a
JavaScript MIME type; Python's `mimetypes` can read .js as text/plain from the Windows
registry, so the type is set here, for every StaticFiles and FileResponse of the process.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent / "static"
DOCS_ASSETS = "/docs-assets"
FAVICON = STATIC_DIR / "favicon.svg"

mimetypes.add_type("text/javascript", ".js")  # RFC 9239; module scripts need a JavaScript type


class PageFiles(StaticFiles):
    """The page's own files, sent with `Cache-Control: no-cache`: the browser revalidates each
    (ETag, a 304 when unchanged), so after an upgrade a cached entry module never imports
    modules of another version."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        return response


def swagger_ui_dir() -> Path | None:
    """The folder holding swagger-ui-bundle.js and swagger-ui.css, or None when not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    folder = Path(str(swagger_ui_path))
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def add_docs_and_icon(app: FastAPI, title: str) -> None:
    """Serve /favicon.ico and, when Swagger UI's files are installed, /docs from them.

    The app must be created with docs_url=None and redoc_url=None (FastAPI's own pages load
    their scripts from a CDN). Without the files there is no /docs; /openapi.json stays.
    """

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(FAVICON, media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    folder = swagger_ui_dir()
    if folder is None:
        return
    app.mount(DOCS_ASSETS, StaticFiles(directory=folder), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json", title=f"{title} · API docs",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css", swagger_favicon_url="/favicon.ico",
            swagger_ui_parameters={"validatorUrl": None})
