"""One handler per error family, all rendering the one JSON error shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.request_context import REQUEST_ID_HEADER, current_request_id
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


class BodySizeLimit:
    """Refuses request bodies over a limit, whether announced by Content-Length or streamed."""

    def __init__(self, app: ASGIApp, max_json_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_json = max_json_bytes
        # Multipart framing adds a little around the file itself.
        self.max_multipart = max_upload_bytes + 64 * 1024
        self.max_upload = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        multipart = headers.get("content-type", "").startswith("multipart/")
        limit = self.max_multipart if multipart else self.max_json
        shown = self.max_upload if multipart else self.max_json
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await problem(_too_large(shown, multipart))(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _too_large(shown, multipart)
            return message

        await self.app(scope, limited_receive, send)


def _too_large(limit: int, multipart: bool) -> PayloadTooLarge:
    what = "upload" if multipart else "request body"
    return PayloadTooLarge(f"The {what} is over the limit of {limit} bytes.", limit_bytes=limit)
