"""Who may call a route: API keys or OAuth access tokens from the request headers, checked by
per-router dependencies.

``require(scope)`` is attached to each router in ``create_app``; it rate-limits the client
address, authenticates the key or token, rate-limits the caller, checks a publishable key's
origin, the scope, and any ``kb_id`` or ``conversation_id`` path parameter. ``kb_in_body`` and
``conversation_in_body`` extend those checks to the JSON body.

A conversation the caller may not reach answers 404 exactly as a missing one does: one of a
knowledge base the key is not restricted to, and, for a publishable key, one this visitor did not
start (a visitor proves it with the conversation's ``X-Visitor-Token``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from api.deps import CallerDep, caller, get_container
from api.middleware.ratelimit import STATE_KEY, RateLimiter
from kb.access.models import ApiKey, Scope
from kb.db.conversations import not_found
from kb.db.feedback import not_found as message_not_found
from kb.errors import ConversationNotFound, Forbidden, NotFound, Unauthorized

_NO_KEY = "Send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'."
_BAD_KEY = "The API key or access token is unknown, revoked or expired."
# Anyone who loads a page holds its publishable key: it must not read or overwrite a visitor's
# profile by naming another user id.
_NOT_PUBLISHABLE = ("/v1/users/",)
# A visitor's proof that a conversation reached through a publishable key is theirs.
VISITOR_TOKEN_HEADER = "X-Visitor-Token"


def _presented_secret(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key", "").strip() or None


def _limit(request: Request, bucket: str, publishable: bool = False) -> None:
    limiter: RateLimiter = request.app.state.rate_limiter
    if limiter.enabled:
        setattr(request.state, STATE_KEY, limiter.hit(bucket, publishable))


def limit_address(request: Request) -> None:
    """Count a request against its client address's allowance (TooManyRequests when over)."""
    _limit(request, f"addr:{request.client.host if request.client else 'unknown'}")


def _check_publishable(request: Request, key: ApiKey) -> None:
    origin = request.headers.get("origin", "").lower()
    if origin not in key.allowed_origins:
        raise Forbidden(
            "A publishable key works only from the web sites it lists; this request's Origin "
            f"{origin or '(none)'} is not one of them."
        )
    route = getattr(request.scope.get("route"), "path", "")
    if route.startswith(_NOT_PUBLISHABLE):
        raise Forbidden("A publishable key may not reach user profiles; use a secret key.")


def _authenticate(request: Request) -> ApiKey | None:
    """The caller's key; None when authentication is turned off."""
    container = get_container(request)
    # Counted before the key is checked, so guessing keys is limited too.
    limit_address(request)
    if not container.settings.security.auth_enabled:
        return None
    secret = _presented_secret(request)
    if secret is None:
        raise Unauthorized(_NO_KEY)
    key = container.keys.authenticate(secret) or container.oauth.authenticate(secret)
    if key is None:
        raise Unauthorized(_BAD_KEY)
    _limit(request, f"key:{key.prefix}", publishable=key.kind == "publishable")
    if key.kind == "publishable":
        _check_publishable(request, key)
    return key


def check_kb(request: Request, key: ApiKey | None, ref: str) -> None:
    """Refuse a key restricted to other knowledge bases; ``ref`` may be an id or a name."""
    if key is None or key.kb_ids is None:
        return
    found = get_container(request).catalog.resolve_kb(ref)
    if not key.may_reach(found.id if found else ref):
        raise Forbidden("This API key may not reach that knowledge base.")


def require(scope: Scope) -> Callable[[Request], ApiKey | None]:
    """A dependency admitting keys with ``scope`` (admin implies every scope)."""

    def dependency(request: Request) -> ApiKey | None:
        key = _authenticate(request)
        request.state.api_key = key  # read by `api.deps.caller`
        if key is None:
            return None
        if not key.has_scope(scope):
            raise Forbidden(f"This API key lacks the {scope!r} scope.", required_scope=scope)
        kb_id = request.path_params.get("kb_id")
        if kb_id is not None:
            check_kb(request, key, kb_id)
        conversation_id = request.path_params.get("conversation_id")
        if conversation_id is not None:
            check_conversation(request, key, conversation_id)
        return key

    return dependency


def require_kb_access(request: Request) -> ApiKey | None:
    """``kb:read`` for GET and HEAD, ``kb:write`` for every other method."""
    return require("kb:read" if request.method in ("GET", "HEAD") else "kb:write")(request)


def unrestricted(key: CallerDep) -> None:
    """Refuse keys restricted to some knowledge bases (creating knowledge bases or keys)."""
    if key is not None and key.kb_ids is not None:
        raise Forbidden("A key restricted to some knowledge bases may not do this.")


def kb_in_body(field: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency applying the knowledge-base check to the JSON body field ``field``."""

    async def dependency(request: Request) -> None:
        key = caller(request)
        if key is None or key.kb_ids is None:
            return
        try:
            data: Any = await request.json()  # cached: the route reads the same body
        except ValueError:
            return  # malformed bodies are answered by validation
        ref = data.get(field) if isinstance(data, dict) else None
        if isinstance(ref, str):
            check_kb(request, key, ref)

    return dependency


def own_model_choice(field: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency refusing a publishable key that names the answering model in ``field``.

    A publishable key sits in a web page for anyone to copy; choosing the model would let any
    visitor spend the operator's provider keys on the most expensive model there is. Such
    requests are answered by the knowledge base's default model (or the server's)."""

    async def dependency(request: Request) -> None:
        key = caller(request)
        if key is None or key.kind != "publishable":
            return
        try:
            data: Any = await request.json()  # cached: the route reads the same body
        except ValueError:
            return  # malformed bodies are answered by validation
        if isinstance(data, dict) and data.get(field) is not None:
            raise Forbidden(
                f"A publishable key may not choose the answering model ({field!r}); the "
                "knowledge base's default model answers. Leave the field out."
            )

    return dependency


def check_conversation(request: Request, key: ApiKey | None, conversation_id: str) -> None:
    """Refuse, as missing (ConversationNotFound), a conversation the key may not reach (module
    docstring); a conversation that does not exist is left to the route."""
    if key is None or (key.kb_ids is None and key.kind != "publishable"):
        return
    try:
        conversation = get_container(request).conversations.get(conversation_id)
    except NotFound:
        return
    if not key.may_reach(conversation.kb_id):
        raise not_found(conversation_id)
    presented = request.headers.get(VISITOR_TOKEN_HEADER)
    if key.kind == "publishable" and not conversation.admits_visitor(presented):
        raise not_found(conversation_id)


def message_in_path(request: Request) -> None:
    """``check_conversation`` on the conversation of the ``message_id`` path parameter; a
    message the caller may not reach answers 404 exactly as a missing one does."""
    message_id = request.path_params["message_id"]
    feedback = get_container(request).data.feedback
    conversation_id = feedback.conversation_of(message_id)  # MessageNotFound when missing
    try:
        check_conversation(request, caller(request), conversation_id)
    except ConversationNotFound:
        raise message_not_found(message_id) from None


def conversation_in_body(field: str) -> Callable[[Request], Awaitable[None]]:
    """A dependency applying ``check_conversation`` to the JSON body field ``field``."""

    async def dependency(request: Request) -> None:
        key = caller(request)
        if key is None:
            return
        try:
            data: Any = await request.json()  # cached: the route reads the same body
        except ValueError:
            return  # malformed bodies are answered by validation
        ref = data.get(field) if isinstance(data, dict) else None
        if isinstance(ref, str):
            check_conversation(request, key, ref)

    return dependency
