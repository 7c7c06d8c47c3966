"""One handler per error family, all rendering the one JSON error shape."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.request_id import REQUEST_ID_HEADER, current_request_id
from api.schemas.errors import Problem
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


# The error responses every operation declares: the one problem+json body for any 4xx and 5xx.
# FastAPI's own 422 (HTTPValidationError) is replaced: validation failures use the same body.
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_ERROR_RESPONSES = {
    "4XX": "Client error (application/problem+json).",
    "5XX": "Server error (application/problem+json).",
}
_FASTAPI_VALIDATION = "#/components/schemas/HTTPValidationError"


def declare_error_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` declare the problem+json body as every operation's error response,
    so generated clients know the error shape."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                _declare(operation["responses"])
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = Problem.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare(responses: dict[str, Any]) -> None:
    generated = responses.get("422", {}).get("content", {}).get("application/json", {})
    if generated.get("schema", {}).get("$ref") == _FASTAPI_VALIDATION:
        del responses["422"]
    for status, response in responses.items():
        if status[0] in "45" and "content" not in response:
            response["content"] = {PROBLEM_JSON: {"schema": _PROBLEM_REF}}
    for status, description in _ERROR_RESPONSES.items():
        responses.setdefault(
            status,
            {"description": description, "content": {PROBLEM_JSON: {"schema": _PROBLEM_REF}}},
        )
