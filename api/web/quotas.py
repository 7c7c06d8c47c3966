"""Per-visitor quotas for publishable keys: messages per conversation and per address per day.

Every visitor of a site shares the site's publishable key, so the key's rate limit cannot tell
one visitor from another; these quotas bound what one conversation and one client address may
send (``KB_WIDGET__``). Either refusal is a 429 ``rate_limited`` whose ``quota`` names it.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from limits import RateLimitItemPerDay
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.auth import check_conversation
from api.deps import caller, get_container
from kb.access.models import ApiKey
from kb.errors import NotFound, TooManyRequests
from kb.settings import WidgetSettings
from kb.settings.service import SecuritySettings

SEND_PATH = "/v1/messages/send"


class VisitorQuotas:
    """Counts visitors' messages against the configured quotas."""

    def __init__(
        self, per_conversation: int, per_address_per_day: int, storage_uri: str = "memory://"
    ) -> None:
        self.per_conversation = per_conversation
        self._daily = RateLimitItemPerDay(per_address_per_day) if per_address_per_day else None
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def check_conversation(self, sent: int) -> None:
        """Refuse one more message in a conversation where the visitor has sent ``sent``."""
        if self.per_conversation and sent >= self.per_conversation:
            raise TooManyRequests(
                f"This conversation has reached its {self.per_conversation} messages; start a "
                "new conversation.",
                quota="conversation",
            )

    def hit_address(self, key: ApiKey, address: str) -> None:
        """Count one message from ``address`` through ``key``; refused once over the day's."""
        if self._daily is None:
            return
        bucket = f"visitor:{key.prefix}:{address}"
        if self._limiter.hit(self._daily, bucket):
            return
        stats = self._limiter.get_window_stats(self._daily, bucket)
        retry = max(1, int(stats.reset_time - time.time()))
        error = TooManyRequests(
            f"This address has sent its {self._daily.amount} messages for today; try again "
            "tomorrow.",
            quota="daily",
            retry_after_s=retry,
        )
        error.response_headers["Retry-After"] = str(retry)
        raise error


def build_quotas(settings: WidgetSettings, security: SecuritySettings) -> VisitorQuotas:
    """The quotas of the ``KB_WIDGET__`` settings, counted in the rate limits' storage."""
    return VisitorQuotas(
        settings.max_messages_per_conversation,
        settings.max_messages_per_address_per_day,
        security.rate_limit_storage,
    )


async def visitor_quota(request: Request) -> None:
    """Apply the quotas to a message sent through a publishable key (a router dependency placed
    after ``api.auth.require``, which identifies the key)."""
    key = caller(request)
    if key is None or key.kind != "publishable" or request.method != "POST":
        return
    if request.url.path != SEND_PATH:
        return
    quotas: VisitorQuotas = request.app.state.visitor_quotas
    try:
        data: Any = await request.json()  # cached: the route reads the same body
    except ValueError:
        return  # malformed bodies are answered by validation
    conversation_id = data.get("conversation_id") if isinstance(data, dict) else None
    if isinstance(conversation_id, str) and quotas.per_conversation:
        # The visitor's own conversation only; another's is answered 404 as the route would.
        check_conversation(request, key, conversation_id)
        quotas.check_conversation(_sent(request, conversation_id, quotas.per_conversation))
    quotas.hit_address(key, request.client.host if request.client else "unknown")


def _sent(request: Request, conversation_id: str, cap: int) -> int:
    """The user messages of a conversation, counted up to ``cap`` (0 when it does not exist)."""
    conversations = get_container(request).conversations
    try:
        # Bot replies interleave: twice the cap, plus handoff replies, covers the last page.
        messages, _total = conversations.history(conversation_id, cap * 2 + 20, 0)
    except NotFound:
        return 0
    return sum(1 for m in messages if m.role == "user")
