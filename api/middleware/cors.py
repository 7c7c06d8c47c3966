"""CORS for browsers: origins from ``KB_API__CORS_ORIGINS`` and from active publishable keys.

Allowed origins are echoed (never ``*``) with ``Vary: Origin``; credentials (cookies) are never
allowed, since the API authenticates with headers only. A preflight from any other origin gets
403 in the one error shape and no CORS headers, so the browser stops there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from kb.errors import Forbidden

ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOW_HEADERS = "Authorization, X-API-Key, Content-Type, X-Request-ID, X-Visitor-Token"
EXPOSE_HEADERS = "RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-ID"
MAX_AGE_S = 600


def _add_vary(headers: MutableHeaders) -> None:
    vary = headers.get("vary")
    if vary is None:
        headers["Vary"] = "Origin"
    elif "origin" not in vary.lower():
        headers["Vary"] = f"{vary}, Origin"


class Cors:
    """Answers preflights and adds CORS headers to every response for allowed origins."""

    def __init__(
        self,
        app: ASGIApp,
        configured: Iterable[str],
        publishable: Callable[[], frozenset[str]],
    ) -> None:
        self.app = app
        self.configured = frozenset(configured)
        # The origins of active publishable keys, cached by the key repository.
        self.publishable = publishable

    def allowed(self, origin: str) -> bool:
        """Whether a browser page on ``origin`` may call the API."""
        origin = origin.lower()
        return origin in self.configured or origin in self.publishable()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.allowed(origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in request_headers:
            await self._preflight(origin, allowed, scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                _add_vary(headers)
                if allowed:
                    headers["Access-Control-Allow-Origin"] = origin
                    headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(
        self, origin: str, allowed: bool, scope: Scope, receive: Receive, send: Send
    ) -> None:
        if not allowed:
            response = problem(Forbidden(f"The origin {origin} may not call this API."))
            _add_vary(response.headers)
            await response(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [
                    (name.lower().encode(), value.encode("latin-1"))
                    for name, value in (
                        ("Access-Control-Allow-Origin", origin),
                        ("Access-Control-Allow-Methods", ALLOW_METHODS),
                        ("Access-Control-Allow-Headers", ALLOW_HEADERS),
                        ("Access-Control-Max-Age", str(MAX_AGE_S)),
                        ("Vary", "Origin"),
                    )
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
