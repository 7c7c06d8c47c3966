"""Console pages rendered from Jinja2 templates (autoescaped), with the console's
Content-Security-Policy: scripts, styles and requests from this origin only, never framed."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from api.console.assets import version

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "console" / "templates"
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'"
)
PAGE_HEADERS = {"Content-Security-Policy": CONSOLE_CSP, "Cache-Control": "no-store"}


# Messages shown after a redirect, chosen by a query flag (never text from the URL itself).
NOTICES = {
    "saved": "Saved.",
    "deleted": "Deleted.",
    "revoked": "The key was revoked; its console sessions have ended.",
    "started": "Started.",
    "client_revoked": "The client was revoked; its access tokens no longer work.",
}


def _notice(request: Request) -> str | None:
    return next((text for flag, text in NOTICES.items() if flag in request.query_params), None)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


@cache
def environment() -> Environment:
    """The template environment; autoescaping is on for every template, whatever its name."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["asset_version"] = version
    return env


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    """The page ``template`` with ``context``, plus what every page shows (the caller, the
    CSRF token, the navigation)."""
    caller = getattr(request.state, "console", None)
    values: dict[str, Any] = {
        "caller": caller,
        "csrf_token": caller.csrf_token if caller else "",
        "path": request.url.path,
        "kb": None,
        "tab": None,
        "notice": _notice(request),
    }
    values.update(context or {})
    html = environment().get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
