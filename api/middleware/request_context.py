"""Request ids and the access log: a pure-ASGI middleware (streaming responses pass untouched).

The request id is taken from a sane incoming ``X-Request-ID`` or generated, kept in a
contextvar for the log formatter and the error bodies, and returned on every response.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.request_id import REQUEST_ID_HEADER, request_id_var

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("kb.access")
# Path parameters that name a person: end users' ids are chosen by the site embedding the chat
# (often an e-mail address or an account number). The access log writes their placeholder.
PERSONAL_PATH_PARAMS = frozenset({"user_id"})
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is at most 128 of ``[A-Za-z0-9._:-]``, else None (then one is made)."""
    return value if value and _SANE_ID.fullmatch(value) else None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _schema_routes(app: Any) -> list[tuple[re.Pattern[str], str, frozenset[str]]]:
    # Built once per app, on the first request answered before routing.
    table: list[tuple[re.Pattern[str], str, frozenset[str]]] | None = getattr(
        app.state, "schema_routes", None
    )
    if table is None:
        table = []
        for template, operations in app.openapi().get("paths", {}).items():
            regex, _, _ = compile_path(template)
            table.append((regex, template, frozenset(m.upper() for m in operations)))
        app.state.schema_routes = table
    return table


def matched_route(scope: Scope) -> tuple[str | None, dict[str, str]]:
    """The path template of the route serving this method and path, and its path parameters.

    The router leaves the route in the scope; requests answered before routing (a body over
    the size limit) are matched against the OpenAPI paths. ``(None, {})`` when no route
    has this path and method.
    """
    route = scope.get("route")
    if route is not None:
        template = getattr(route, "path", None)
        if scope.get("method") not in (getattr(route, "methods", None) or ()):
            return None, {}  # a 405: the path exists, the method does not
        params = {k: str(v) for k, v in scope.get("path_params", {}).items()}
        return (template, params) if isinstance(template, str) else (None, {})
    app = scope.get("app")
    if app is None or not hasattr(app, "openapi"):
        return None, {}
    for regex, template, methods in _schema_routes(app):
        found = regex.match(scope["path"])
        if found and scope["method"] in methods:
            return template, found.groupdict()
    return None, {}


def _template_of_path(scope: Scope) -> tuple[str | None, dict[str, str]]:
    """The template of the route this path belongs to, whatever the method (a 405 names a
    known path too), and its path parameters."""
    template, params = matched_route(scope)
    if template is not None:
        return template, params
    app = scope.get("app")
    if app is None or not hasattr(app, "openapi"):
        return None, {}
    for regex, candidate, _methods in _schema_routes(app):
        found = regex.match(scope["path"])
        if found:
            return candidate, found.groupdict()
    return None, {}


def logged_path(scope: Scope) -> str:
    """The request path as the access log writes it: a personal path parameter's value is
    replaced by its placeholder (``/v1/users/{user_id}/profile``), other values are kept."""
    template, params = _template_of_path(scope)
    if template is None or not PERSONAL_PATH_PARAMS.intersection(params):
        return str(scope["path"])

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        return f"{{{name}}}" if name in PERSONAL_PATH_PARAMS else params.get(name, found.group(0))

    return _PARAM.sub(value, template)


def route_template(scope: Scope) -> str | None:
    """The path template of the matched route (``/v1/kbs/{kb_id}``), None when unmatched."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) else matched_route(scope)[0]


def caller_prefix(scope: Scope) -> str | None:
    """The public identity of the authenticated caller: key prefix or OAuth client id."""
    caller = scope.get("state", {}).get("api_key")
    for attribute in ("prefix", "client_id"):
        value = getattr(caller, attribute, None)
        if isinstance(value, str):
            return value
    return None


def client_address(scope: Scope) -> str | None:
    """The client's address as the server saw it."""
    client = scope.get("client")
    return str(client[0]) if client else None


class RequestContext:
    """Gives every request an id (header, contextvar, error bodies) and logs one access line."""

    def __init__(self, app: ASGIApp, access_log_enabled: bool = True) -> None:
        self.app = app
        self.access_log_enabled = access_log_enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = sane_request_id(_header(scope, b"x-request-id")) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        failed = True
        try:
            await self.app(scope, receive, send_with_id)
            failed = False
        finally:
            if self.access_log_enabled:
                self._log(scope, request_id, status, time.perf_counter() - started)
            # After an unhandled error the id stays set: the outermost error middleware renders
            # the 500 (and logs it) after this returns, in the same request task.
            if not failed:
                request_id_var.reset(token)

    @staticmethod
    def _log(scope: Scope, request_id: str, status: int, seconds: float) -> None:
        method, path = scope["method"], logged_path(scope)
        # Never the query string, headers or body: they may carry secrets; never a person's id.
        access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "request_id": request_id,
                "method": method,
                "route": route_template(scope) or "unmatched",
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "client": client_address(scope),
                "key_prefix": caller_prefix(scope),
            },
        )
