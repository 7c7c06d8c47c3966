"""Signing in and out of the console, its front door and its static files."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from fastapi.responses import RedirectResponse

from api.console.assets import MEDIA_TYPES, asset
from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import (
    PREFIX,
    SESSION_COOKIE,
    ConsoleCaller,
    CsrfRefused,
    check_same_origin,
    current_caller,
    set_session_cookie,
)
from api.deps import ContainerDep
from api.middleware.ratelimit import RateLimiter
from kb.errors import RouteNotFound

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
# Before a session exists, the sign-in form is protected by a token in its own cookie and in
# the form (double submit); Origin and SameSite=Strict do the rest.
SIGN_IN_COOKIE = "kb_console_sign_in"
_BAD_KEY = "That API key is unknown, revoked or expired."


def _next(target: str | None) -> str:
    """Where to go after signing in: a console page, never another site."""
    if target and target.startswith(f"{PREFIX}/") and not target.startswith("//"):
        return target
    return f"{PREFIX}/kbs"


@router.get("")
async def home(caller: Annotated[ConsoleCaller, Depends(current_caller)]) -> Response:
    """The console's front door: the knowledge bases."""
    return RedirectResponse(f"{PREFIX}/kbs", status_code=303)


def _sign_in_page(request: Request, next_page: str, error: str | None, status: int) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "sign_in.html",
        {"sign_in_token": token, "next": next_page, "error": error},
        status=status,
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        max_age=3600,
        path=f"{PREFIX}/sign-in",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/sign-in")
def sign_in_form(request: Request, next: str | None = None) -> Response:
    """The sign-in page: paste an API key."""
    return _sign_in_page(request, _next(next), None, 200)


@router.post("/sign-in")
def sign_in(
    request: Request,
    container: ContainerDep,
    api_key: Annotated[str, Form(max_length=300)] = "",
    sign_in_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Exchange an API key for a session: the browser gets the session cookie, never the key."""
    check_same_origin(request)
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, sign_in_token):
        raise CsrfRefused(
            "The sign-in form has expired or came from another web site. Reload the page and "
            "sign in again."
        )
    limiter: RateLimiter = request.app.state.console_sign_in_limiter
    if limiter.enabled:
        limiter.hit(f"console-sign-in:{request.client.host if request.client else 'unknown'}")
    prefix = ""
    if container.settings.security.auth_enabled:
        key = container.keys.authenticate(api_key.strip())
        if key is None:
            return _sign_in_page(request, _next(next), _BAD_KEY, 401)
        if key.kind == "publishable" or not key.has_scope("kb:read"):
            return _sign_in_page(
                request,
                _next(next),
                "This key cannot sign in: the console needs a secret key with the 'kb:read' "
                "scope (or 'admin').",
                403,
            )
        prefix = key.prefix
        request.state.api_key = key  # the audit trail names who signed in
    container.sessions.close(request.cookies.get(SESSION_COOKIE))  # a new id for a new sign-in
    session_id, _session = container.sessions.open(prefix)
    response = RedirectResponse(_next(next), status_code=303)
    set_session_cookie(request, response, session_id, container.settings.console.session_max_s)
    response.delete_cookie(SIGN_IN_COOKIE, path=f"{PREFIX}/sign-in")
    return response


@router.post("/sign-out")
def sign_out(
    request: Request,
    container: ContainerDep,
    caller: Annotated[ConsoleCaller, Depends(current_caller)],
) -> Response:
    """End the session on the server and drop the cookie."""
    container.sessions.close(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.get("/static/{name}")
def static_file(name: str, request: Request) -> Response:
    """console.js or console.css, cached for a day and revalidated by ETag."""
    found = asset(name)
    if found is None:
        raise RouteNotFound(f"No console file {name!r}.")
    headers = {"ETag": found.etag, "Cache-Control": "public, max-age=86400"}
    if found.matches(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type=MEDIA_TYPES[name], headers=headers)
