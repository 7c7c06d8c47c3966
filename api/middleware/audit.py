"""Records administrative actions in the audit log: a pure-ASGI middleware that reads the matched
route after the response, so no router needs to know about it.

Every POST, PUT, PATCH and DELETE on a known route is recorded, refused ones (401, 403, 413...)
included, except the chat traffic (answers, conversations, the OpenAI-compatible API), which is
what the service exists to serve, not administration. Bodies are never recorded.
"""

from __future__ import annotations

import logging
import re

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.request_context import caller_prefix, client_address, matched_route
from kb.db.audit import ANONYMOUS_ACTOR, AuditEvent, AuditLog

log = logging.getLogger(__name__)
_VERBS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
# Where the generic name would mislead.
_NAMED = {
    ("DELETE", "/v1/keys/{prefix}"): "key.revoke",
    ("DELETE", "/v1/kbs/{kb_id}/crawls/{crawl_id}"): "crawl.cancel",
}
# Route templates of the chat scope: not administrative, and far too many to record.
_CHAT_ROUTE = re.compile(
    r"^/v1/(kbs/\{kb_id\}/(query|search)$|messages/|chat/|conversations/|users/|leads\b)"
)
# Clients authenticate themselves here: access log only (every call would be "anonymous").
_TOKEN_ROUTE = "/oauth/token"


def _is_param(segment: str) -> bool:
    return segment.startswith("{")


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    return word[:-1] if word.endswith("s") else word


def action_name(method: str, template: str) -> str:
    """A stable action name: ``POST /v1/keys`` is ``key.create``, ``DELETE /v1/kbs/{kb_id}``
    ``kb.delete``, and ``POST /v1/keys/{prefix}/rotate`` ``key.rotate``."""
    if (method, template) in _NAMED:
        return _NAMED[method, template]
    parts = [p for p in template.split("/") if p and p != "v1"]
    literals = [p for p in parts if not _is_param(p)] or ["root"]
    last = parts[-1] if parts else "root"
    # A verb after an item (`.../{prefix}/rotate`), not a collection (`.../{kb_id}/documents`).
    if len(parts) >= 2 and _is_param(parts[-2]) and not last.endswith("s"):
        owner = literals[-2] if len(literals) >= 2 else last
        return f"{_singular(owner)}.{last}"
    return f"{_singular(literals[-1])}.{_VERBS.get(method, method.lower())}"


def audit_event(scope: Scope, status: int) -> AuditEvent | None:
    """What to record about a finished request; None when it is not an administrative action."""
    method = scope["method"]
    if method not in _VERBS:
        return None
    template, path_params = matched_route(scope)
    if template is None or _CHAT_ROUTE.match(template) or template == _TOKEN_ROUTE:
        return None
    actor = caller_prefix(scope) or ANONYMOUS_ACTOR
    if actor == ANONYMOUS_ACTOR and status >= 400:
        # Refused before anyone was identified (no or a wrong key, a body too large): anyone
        # can send these, so they go to the access log only and cannot flood the audit trail.
        return None
    return AuditEvent(
        actor=actor,
        action=action_name(method, template),
        status=status,
        method=method,
        route=template,
        target=path_params,
        request_id=scope.get("state", {}).get("request_id"),
        client=client_address(scope),
    )


class AuditTrail:
    """Writes an audit entry for each administrative request once it has been answered."""

    def __init__(self, app: ASGIApp, audit_log: AuditLog) -> None:
        self.app = app
        self.audit_log = audit_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _VERBS:
            await self.app(scope, receive, send)
            return
        status = 500  # what an unhandled error is answered with

        async def send_seen(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_seen)
        finally:
            await self._record(scope, status)

    async def _record(self, scope: Scope, status: int) -> None:
        event = audit_event(scope, status)
        if event is None:
            return
        try:
            await run_in_threadpool(self.audit_log.record, event)
        except Exception:  # the response is already sent; losing the entry is logged loudly
            log.exception("could not write the audit entry for %s %s", event.action, event.target)
