"""Per-key and per-address request allowances (the ``limits`` library; in-process by default)."""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItem, parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kb.errors import TooManyRequests

# Where the auth dependency leaves the headers for RateLimitHeaders to send.
STATE_KEY = "rate_limit_headers"


def _parse(rules: str) -> list[RateLimitItem]:
    return parse_many(rules) if rules.strip() else []


class RateLimiter:
    """Counts requests per bucket (``key:PREFIX`` or ``addr:HOST``) against every rule.

    Publishable keys' buckets may have rules of their own (``publishable_rules``), since every
    visitor of a site shares one such key; None means the same rules as everyone.
    """

    def __init__(
        self, rules: str, storage_uri: str = "memory://", publishable_rules: str | None = None
    ) -> None:
        self._items = _parse(rules)
        self._publishable_items = (
            self._items if publishable_rules is None else _parse(publishable_rules)
        )
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_uri))

    @property
    def enabled(self) -> bool:
        """False when no rule is configured."""
        return bool(self._items or self._publishable_items)

    def hit(self, bucket: str, publishable: bool = False) -> dict[str, str]:
        """Count one request; the RateLimit headers to send, or TooManyRequests when over."""
        headers: dict[str, str] = {}
        for item in self._publishable_items if publishable else self._items:
            allowed = self._limiter.hit(item, bucket)
            stats = self._limiter.get_window_stats(item, bucket)
            reset = max(1, math.ceil(stats.reset_time - time.time()))
            # The tightest rule decides what the client is told.
            if not headers or stats.remaining < int(headers["RateLimit-Remaining"]):
                headers = {
                    "RateLimit-Limit": str(item.amount),
                    "RateLimit-Remaining": str(stats.remaining),
                    "RateLimit-Reset": str(reset),
                }
            if not allowed:
                error = TooManyRequests(
                    f"Over the limit of {item}; retry in {reset} s.", retry_after_s=reset
                )
                error.response_headers.update(headers | {"Retry-After": str(reset)})
                raise error
        return headers


class RateLimitHeaders:
    """Adds the RateLimit headers that the auth dependency left in the request state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Created here so the route's request.state and this middleware share one dict.
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_headers(message: Message) -> None:
            found: dict[str, str] | None = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and found:
                headers = MutableHeaders(scope=message)
                for name, value in found.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
