"""Response headers that keep a browser from running or framing what the API returns.

Answers quote documents, and documents may hold markup (``<script>``, ``<img onerror>``). The
API only ever answers JSON, problem+json or Server-Sent Events; these headers make sure no
browser sniffs such a body into HTML, runs it, frames it, or keeps a copy:

- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
  ``X-Frame-Options: DENY`` on every response;
- ``Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`` on every response
  but the interactive docs pages (``/docs``, ``/redoc``), which send their own: scripts and
  styles from this origin only (``api.docs``), never framed either;
- the web console (``/console``, ``api.console``) sends its own policy as well, and
  ``Referrer-Policy: same-origin`` instead, so its forms carry the Origin its CSRF check reads;
- ``Cache-Control: no-store`` unless the route chose its own (answers, keys and errors are
  private to the caller).

``SecureFastAPI`` puts the middleware outside Starlette's error middleware, so even the 500
answer to an unexpected error carries them.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = "default-src 'none'; frame-ancestors 'none'"
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
# Pages whose own Content-Security-Policy (set by their route) is kept; any other is replaced.
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
# The web console's pages set their own policy too (``api.console.pages``: scripts, styles and
# requests from this origin only, never framed).
OWN_POLICY_PREFIX = "/console"


class SecurityHeaders:
    """Adds the safe headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        console = path == OWN_POLICY_PREFIX or path.startswith(OWN_POLICY_PREFIX + "/")
        docs = path in DOCS_PATHS or console

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers[name] = value
                if console:
                    # Browsers send "Origin: null" with the forms of a no-referrer page; the
                    # console's CSRF check compares the Origin of its own forms.
                    headers["Referrer-Policy"] = "same-origin"
                if docs:
                    headers.setdefault("Content-Security-Policy", STRICT_CSP)
                else:
                    headers["Content-Security-Policy"] = STRICT_CSP
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecureFastAPI(FastAPI):
    """FastAPI whose every response, the unexpected-error 500 included, has the safe headers."""

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack, wrapped from the outside in ``SecurityHeaders``."""
        return SecurityHeaders(super().build_middleware_stack())
