"""The interactive API docs (``/docs``, ``/redoc``), served whole by the engine itself.

FastAPI's own pages load Swagger UI and ReDoc from a CDN (without subresource integrity) and
ReDoc's fonts from Google: blank on a server without Internet access, and whatever the CDN
serves runs with the docs page's origin. Here the scripts, styles and icon come from the
``fastapi-offline`` package, under ``/docs-assets/``, and each page carries a Content-Security
Policy that allows only this origin, the page's own inline script (by hash), and no framing.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.types import Scope

ASSETS_PATH = "/docs-assets"
DOCS_PATH, REDOC_PATH, OAUTH2_REDIRECT_PATH = "/docs", "/redoc", "/docs/oauth2-redirect"
_ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def assets_dir() -> Path:
    """The directory of Swagger UI's and ReDoc's files in the installed ``fastapi-offline``."""
    # find_spec, not import: only the files are used, not the package's FastAPI subclass.
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("fastapi-offline is not installed; run `make setup`.")
    static = Path(next(iter(spec.submodule_search_locations))) / "static"
    missing = [name for name in _ASSET_FILES if not (static / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline lacks {', '.join(missing)} in {static}.")
    return static


def docs_csp(html: str) -> str:
    """The Content-Security-Policy of a docs page: scripts, styles, images, fonts and requests
    from this origin only, plus the page's own inline scripts by hash; never framed."""
    hashes = "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src 'self'{hashes}; "
        # Swagger UI and ReDoc style their elements at run time (style attributes, and
        # ReDoc's generated <style> tags).
        "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
        # ReDoc runs its search index in a worker it builds from a blob.
        "connect-src 'self'; worker-src 'self' blob:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )


def _page(response: HTMLResponse) -> HTMLResponse:
    html = bytes(response.body).decode()
    return HTMLResponse(html, headers={"Content-Security-Policy": docs_csp(html)})


class _Assets(StaticFiles):
    """The docs' files, cacheable for a day (the API's own answers are ``no-store``)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file at ``path`` if it is one the pages use; 404 otherwise."""
        if path not in _ASSET_FILES:
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI), ``/redoc`` and their files on ``app``, which must be
    created with ``docs_url=None, redoc_url=None``; open like ``/openapi.json``."""
    assert app.openapi_url, "the docs pages read the OpenAPI document"
    app.mount(ASSETS_PATH, _Assets(directory=assets_dir()), name="docs-assets")
    swagger = _page(
        get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=OAUTH2_REDIRECT_PATH,
            # Swagger UI would otherwise send the schema's URL to validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )
    )
    redoc = _page(
        get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )
    )
    redirect = _page(get_swagger_ui_oauth2_redirect_html())
    for path, page in ((DOCS_PATH, swagger), (REDOC_PATH, redoc), (OAUTH2_REDIRECT_PATH, redirect)):
        app.add_api_route(path, _serve(page), methods=["GET"], include_in_schema=False)


def _serve(page: HTMLResponse) -> Callable[[], Awaitable[HTMLResponse]]:
    body, headers = bytes(page.body), dict(page.headers)
    headers.pop("content-length", None)

    async def docs_page() -> HTMLResponse:
        return HTMLResponse(body, headers=headers)

    return docs_page
