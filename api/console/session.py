"""Who is using the console: the session cookie, the key behind it, and the CSRF check.

A console request is authenticated by its session cookie, never by an API key: the key was
exchanged for the session at sign-in and is not kept by the browser. Every request re-reads
the key the session acts as, so a revoked (or rotated and expired) key ends its sessions at
once. Every state-changing request must come from this origin (``Origin``) and carry the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``). The scope and
knowledge-base checks are the API's own (``api.auth``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from api.auth import check_kb, limit_address, unrestricted
from api.deps import get_container
from kb.access.models import ApiKey, Scope
from kb.access.sessions import ConsoleSession
from kb.errors import ApiKeyNotFound, Forbidden, Unauthorized

PREFIX = "/console"
SESSION_COOKIE = "kb_console"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SignInRequired(Unauthorized):
    """No live session: pages redirect to the sign-in page, console JSON answers 401."""


class CsrfRefused(Forbidden):
    """A state-changing request from another site, or without this session's CSRF token."""


@dataclass(frozen=True)
class ConsoleCaller:
    """The signed-in browser: its session and the key it acts as (None: auth is off)."""

    session: ConsoleSession
    key: ApiKey | None

    @property
    def csrf_token(self) -> str:
        """The token every form and fetch of this session carries."""
        return self.session.csrf_token

    @property
    def is_admin(self) -> bool:
        """Whether the admin pages (keys, webhooks, providers, audit) are open to it."""
        return self.key is None or (self.key.has_scope("admin") and self.key.kb_ids is None)

    def may(self, scope: str) -> bool:
        """Whether the key has ``scope`` (admin implies every scope)."""
        return self.key is None or self.key.has_scope(scope)

    @property
    def label(self) -> str:
        """How the header names the caller."""
        if self.key is None:
            return "authentication off"
        return f"{self.key.name} ({self.key.prefix})" if self.key.name else self.key.prefix


def own_origin(request: Request) -> str:
    """This server's origin as the browser sees it."""
    return f"{request.url.scheme}://{request.url.netloc}".lower()


def check_same_origin(request: Request) -> None:
    """Refuse a state-changing request another site's page sent (CsrfRefused)."""
    origin = request.headers.get("origin")
    if origin is not None and origin.lower() != own_origin(request):
        raise CsrfRefused(
            "This request came from another web site and was refused (cross-site request "
            "forgery protection). Use the console's own pages."
        )


def set_session_cookie(request: Request, response: Response, session_id: str, max_age: int) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS, console paths only."""
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _active_key(request: Request, session: ConsoleSession) -> ApiKey | None:
    container = get_container(request)
    try:
        key = container.keys.get(session.key_prefix)
    except ApiKeyNotFound:
        key = None
    if key is None or not key.is_active():
        container.sessions.close_for_key(session.key_prefix)
        raise SignInRequired("Your API key was revoked or has expired; sign in with another.")
    return key


async def _presented_csrf(request: Request) -> str | None:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # cached: the route reads the same form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def current_caller(request: Request) -> ConsoleCaller:
    """The signed-in caller; SignInRequired, or CsrfRefused for a forged write."""
    unsafe = request.method not in SAFE_METHODS
    if unsafe:
        check_same_origin(request)
    container = get_container(request)
    session = container.sessions.find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        # Only requests without a live session count against the address's API allowance: a
        # signed-in page polls a running crawl every second and must not run out.
        limit_address(request)
        raise SignInRequired("Sign in to use the console.")
    key = _active_key(request, session) if container.settings.security.auth_enabled else None
    if unsafe and not session.csrf_matches(await _presented_csrf(request)):
        raise CsrfRefused(
            "This form is missing its security token or it has expired (cross-site request "
            "forgery protection). Reload the page and try again."
        )
    request.state.api_key = key  # the audit trail names the key as the actor
    caller = ConsoleCaller(session, key)
    request.state.console = caller
    return caller


def console(
    scope: Scope | None = None, admin: bool = False
) -> Callable[..., Awaitable[ConsoleCaller]]:
    """A dependency admitting a signed-in key with ``scope`` (and, with ``admin``, an
    unrestricted admin key), checked as ``api.auth.require`` checks the API's callers."""

    async def dependency(request: Request) -> ConsoleCaller:
        caller = await current_caller(request)
        key = caller.key
        if key is None:
            return caller
        if admin:
            if not key.has_scope("admin"):
                raise Forbidden(
                    "This page needs a key with the 'admin' scope.", required_scope="admin"
                )
            unrestricted(key)
        if scope is not None and not key.has_scope(scope):
            raise Forbidden(f"This API key lacks the {scope!r} scope.", required_scope=scope)
        kb_id = request.path_params.get("kb_id")
        if kb_id is not None:
            check_kb(request, key, kb_id)
        return caller

    return dependency


async def kb_access(request: Request) -> ConsoleCaller:
    """``kb:read`` to look, ``kb:write`` to change, as the API's knowledge-base routes."""
    scope: Scope = "kb:read" if request.method in SAFE_METHODS else "kb:write"
    return await console(scope)(request)


ReaderDep = Annotated[ConsoleCaller, Depends(console("kb:read"))]
KbAccessDep = Annotated[ConsoleCaller, Depends(kb_access)]
WriterDep = Annotated[ConsoleCaller, Depends(console("kb:write"))]
ChatterDep = Annotated[ConsoleCaller, Depends(console("chat"))]
AdminDep = Annotated[ConsoleCaller, Depends(console(admin=True))]
