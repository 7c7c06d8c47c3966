"""How console routes answer errors: pages get a readable HTML page (or the sign-in page), the
console's JSON endpoints (``/console/api/...``) the one problem+json body."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.console.pages import render
from api.console.session import PREFIX, CsrfRefused, SignInRequired
from api.errors import problem
from kb.errors import KBError, ValidationFailed

JSON_PREFIX = f"{PREFIX}/api/"


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(JSON_PREFIX)


def _validation(exc: RequestValidationError) -> ValidationFailed:
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query"))
    return ValidationFailed(f"{where or 'form'}: {first.get('msg', 'invalid value')}")


def _back(request: Request) -> str:
    """Where the error page's link leads: the page the form was on, if it is the console's."""
    referer = urlsplit(request.headers.get("referer", ""))
    own = referer.netloc == request.url.netloc and referer.path.startswith(PREFIX)
    return referer.path if own else PREFIX


def error_page(request: Request, error: KBError) -> Response:
    """The answer to ``error`` in a console request."""
    if _wants_json(request):
        return problem(error)
    if isinstance(error, SignInRequired):
        target = request.url.path if request.method == "GET" else PREFIX
        if request.url.query and request.method == "GET":
            target += "?" + request.url.query
        return RedirectResponse(f"{PREFIX}/sign-in?next={quote(target, safe='')}", status_code=303)
    headline = "Request refused" if isinstance(error, CsrfRefused) else error.title
    response = render(
        request,
        "error.html",
        {"error": error, "headline": headline, "back": _back(request)},
        status=error.status,
    )
    response.headers.update(error.response_headers)
    return response


class ConsoleRoute(APIRoute):
    """An APIRoute whose KBErrors and validation failures become console error pages."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, wrapped to render the errors it raises."""
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except KBError as exc:
                return error_page(request, exc)
            except RequestValidationError as exc:
                return error_page(request, _validation(exc))

        return handle
