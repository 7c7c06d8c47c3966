"""One handler per error family, all rendering the one JSON error shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.request_id import REQUEST_ID_HEADER, current_request_id
from kb.errors import (
    InvalidInput,
    KBError,
    MethodNotAllowed,
    PayloadTooLarge,
    RouteNotFound,
    ValidationFailed,
)

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def problem(error: KBError) -> JSONResponse:
    """The HTTP response for an error, naming the request id inside a request."""
    body, headers = error.to_dict(), dict(error.response_headers)
    request_id = current_request_id()
    if request_id:
        # Set here as well: the 500 of an unexpected error is sent outside RequestContext.
        body["request_id"] = headers[REQUEST_ID_HEADER] = request_id
    return JSONResponse(body, status_code=error.status, media_type=PROBLEM_JSON, headers=headers)


async def _on_kb_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, KBError)
    return problem(exc)


async def _on_validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors: list[dict[str, Any]] = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
        for e in exc.errors()
    ]
    detail = "invalid request"
    if errors:
        where = ".".join(errors[0]["loc"])
        detail = f"{where}: {errors[0]['msg']}" if where else str(errors[0]["msg"])
    return problem(ValidationFailed(detail, errors=errors))


_HTTP_ERRORS: dict[int, type[KBError]] = {
    404: RouteNotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    error_type = _HTTP_ERRORS.get(exc.status_code)
    if error_type is not None:
        return problem(error_type(str(exc.detail)))
    error = InvalidInput(str(exc.detail))
    body = error.to_dict() | {"status": exc.status_code, "request_id": current_request_id()}
    return JSONResponse(body, status_code=exc.status_code, media_type=PROBLEM_JSON)


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # Internals stay in the log; the client gets the stable shape and no stack trace.
    log.exception("unhandled error", exc_info=exc)
    return problem(KBError("An unexpected error occurred; it has been logged."))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error path to the one shape."""
    app.add_exception_handler(KBError, _on_kb_error)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
