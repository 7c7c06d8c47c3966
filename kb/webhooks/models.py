"""Webhook subscriptions and deliveries as handed out: dataclasses, statuses, event bodies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from kb.runtime.events import Event

DeliveryStatus = Literal["pending", "succeeded", "failed", "retrying"]
# Deliveries the worker still has to send.
OPEN: tuple[DeliveryStatus, ...] = ("pending", "retrying")
ALL_EVENTS = "*"
SNIPPET_CHARS = 200


@dataclass(frozen=True)
class Webhook:
    """A subscription as shown to callers: never its secret."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str
    active: bool
    created_at: datetime
    updated_at: datetime
    consecutive_failures: int = 0
    disabled_reason: str | None = None

    def wants(self, event_type: str) -> bool:
        """Whether events of this type go to this subscription."""
        return self.active and (ALL_EVENTS in self.events or event_type in self.events)


@dataclass(frozen=True)
class Delivery:
    """One event sent (or to be sent) to one subscription, with its attempts so far."""

    id: str
    webhook_id: str
    event: str
    event_id: str
    body: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_response: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    """The outcome of one attempt, recorded on its delivery."""

    status: DeliveryStatus
    status_code: int | None = None
    error: str | None = None
    response: str | None = None
    next_attempt_at: datetime | None = None


def event_body(event: Event) -> str:
    """The exact JSON body sent for ``event`` (compact, stable for every retry)."""
    return json.dumps(event.envelope(), separators=(",", ":"), default=str)
