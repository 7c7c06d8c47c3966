"""A small in-process event bus: services publish what happened, subscribers (webhooks) react.

Publishing never fails the publisher: a subscriber that raises is logged and skipped, so an
ingestion or a chat reply succeeds whatever the webhook machinery does.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

log = logging.getLogger(__name__)

EventName = Literal[
    "conversation.started",
    "message.created",
    "message.feedback",
    "document.ingested",
    "crawl.completed",
    "lead.created",
    "conversation.handoff_requested",
    "conversation.agent_replied",
    "conversation.released",
    "conversation.closed",
]


@dataclass(frozen=True)
class Event:
    """Something that happened: a stable id, a type, when, and small data (ids, counts)."""

    type: str
    data: Mapping[str, Any]
    id: str = field(default_factory=lambda: f"evt_{secrets.token_hex(12)}")
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def envelope(self) -> dict[str, Any]:
        """The JSON document a webhook receives."""
        return {
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at.isoformat(),
            "data": dict(self.data),
        }


Subscriber = Callable[[Event], None]


class EventBus:
    """Calls every subscriber with each published event, in the publisher's thread."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._lock = threading.Lock()

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with every event published from now on."""
        with self._lock:
            self._subscribers.append(subscriber)

    def publish(self, type_: EventName, data: Mapping[str, Any]) -> Event:
        """Announce an event; subscriber errors are logged, never raised."""
        event = Event(type_, data)
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("event subscriber failed for %s %s", event.type, event.id)
        return event
