"""Webhook subscriptions and deliveries as stored (tables) and as handed out (dataclasses)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kb.events import Event
from kb.tables import Base, new_id

DeliveryStatus = Literal["pending", "succeeded", "failed", "retrying"]
# Deliveries the worker still has to send.
OPEN: tuple[DeliveryStatus, ...] = ("pending", "retrying")
ALL_EVENTS = "*"
SNIPPET_CHARS = 200


def now() -> datetime:
    return datetime.now(UTC)


def utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class WebhookRow(Base):
    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(500), default="")
    secret_encrypted: Mapped[str] = mapped_column(Text)
    # The secret before the last rotation, still signing until it expires.
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    previous_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Deliveries that ended failed since the last success; past a limit the subscription is
    # paused with the reason (re-activated by PATCH active=true).
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class DeliveryRow(Base):
    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_response: Mapped[str | None] = mapped_column(Text, nullable=True)
    next_attempt_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


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


def to_webhook(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        events=tuple(row.events),
        description=row.description,
        active=row.active,
        created_at=utc(row.created_at) or now(),
        updated_at=utc(row.updated_at) or now(),
        consecutive_failures=row.consecutive_failures or 0,
        disabled_reason=row.disabled_reason,
    )


def to_delivery(row: DeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        webhook_id=row.webhook_id,
        event=row.event,
        event_id=row.event_id,
        body=row.body,
        status=row.status,  # type: ignore[arg-type]
        attempts=row.attempts,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        last_response=row.last_response,
        next_attempt_at=utc(row.next_attempt_at),
        created_at=utc(row.created_at) or now(),
        delivered_at=utc(row.delivered_at),
    )


def event_body(event: Event) -> str:
    """The exact JSON body sent for ``event`` (compact, stable for every retry)."""
    return json.dumps(event.envelope(), separators=(",", ":"), default=str)


def delivery_row(webhook_id: str, event: str, event_id: str, body: str) -> DeliveryRow:
    return DeliveryRow(
        id=new_id("dlv"),
        webhook_id=webhook_id,
        event=event,
        event_id=event_id,
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now(),
    )
