"""Webhook subscriptions and deliveries as stored: the tables and their conversions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from kb.db.base import Base, new_id
from kb.webhooks.models import Delivery, Webhook


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
    # The knowledge base the event is about (None: pings), so deleting it erases its deliveries
    # (kb.db.erasure): the bodies carry what visitors left, a lead's name and e-mail address.
    kb_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
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


def kb_of(body: str) -> str | None:
    """The knowledge base an event body is about: its ``data.kb_id``, if it has one."""
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError):
        return None
    kb_id = data.get("kb_id") if isinstance(data, dict) else None
    return kb_id if isinstance(kb_id, str) else None


def delivery_row(webhook_id: str, event: str, event_id: str, body: str) -> DeliveryRow:
    return DeliveryRow(
        id=new_id("dlv"),
        webhook_id=webhook_id,
        event=event,
        event_id=event_id,
        kb_id=kb_of(body),
        body=body,
        status="pending",
        attempts=0,
        next_attempt_at=now(),
    )


def add_kb_id_column(engine: Engine) -> None:
    """Give a delivery log created before deliveries named their knowledge base its ``kb_id``
    column, filled in from the stored bodies."""
    table = DeliveryRow.__tablename__
    if "kb_id" in {column["name"] for column in inspect(engine).get_columns(table)}:
        return
    with engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {table} ADD COLUMN kb_id VARCHAR(64)"))
        connection.execute(text(f"CREATE INDEX ix_{table}_kb_id ON {table} (kb_id)"))
        rows = connection.execute(text(f"SELECT id, body FROM {table}")).all()
        named = [{"id": id_, "kb_id": kb_of(body)} for id_, body in rows if kb_of(body)]
        if named:
            connection.execute(text(f"UPDATE {table} SET kb_id = :kb_id WHERE id = :id"), named)
