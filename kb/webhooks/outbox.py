"""The event outbox of the distributed setup, and the claims that keep deliveries single.

With several processes, an event is written to ``event_outbox`` by the process where it
happened (one insert: which subscriptions want it is not its concern) and drained by the
workers into webhook deliveries: one transaction per batch creates each delivery of an event and
deletes the event, so a worker killed mid-drain leaves the batch to the next drain, and a
delivery that exists already for the subscription is never created twice. Drained events are
not kept (what they say lives on in the deliveries, which erasure covers); an event names its
knowledge base (``kb_id``), so deleting the knowledge base erases the undrained ones too.
Each delivery keeps its id for every attempt (the ``X-KB-Delivery`` header), so a receiver
that de-duplicates by it sees each event once even when a send is repeated after a crash.

Where the outbox row is written: right after the change it reports commits, in the same thread
(the services commit through their own repositories, which do not share a session with it); a
process killed in the microseconds between the two loses that one event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, Text, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from kb.db.base import Base, KnowledgeBaseRow
from kb.runtime.events import Event
from kb.webhooks.models import OPEN, Delivery, event_body
from kb.webhooks.tables import DeliveryRow, WebhookRow, delivery_row, kb_of, to_webhook

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class OutboxRow(Base):
    __tablename__ = "event_outbox"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the event's id
    type: Mapped[str] = mapped_column(String(64))
    kb_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class Outbox:
    """Events written by any process, drained into deliveries by workers."""

    def __init__(self, engine: Engine) -> None:
        tables = [OutboxRow.__table__, WebhookRow.__table__, DeliveryRow.__table__]
        Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def write(self, event: Event) -> None:
        """Store ``event`` for the drain (an ``EventBus`` subscriber)."""
        body = event_body(event)
        with self._sessions.begin() as session:
            session.add(
                OutboxRow(
                    id=event.id, type=event.type, kb_id=kb_of(body), body=body, created_at=_now()
                )
            )

    def pending(self) -> int:
        """Events not drained yet."""
        with self._sessions.begin() as session:
            return len(session.scalars(select(OutboxRow.id)).all())

    def drain(self, limit: int = 200) -> int:
        """Turn undrained events into deliveries, oldest first, in one transaction; how many
        events were drained. Rows another drain holds are skipped (PostgreSQL) or wait for it."""
        with self._sessions.begin() as session:
            query = select(OutboxRow).order_by(OutboxRow.created_at, OutboxRow.id).limit(limit)
            if self._engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            rows = session.scalars(query).all()
            if not rows:
                return 0
            hooks = [to_webhook(row) for row in session.scalars(select(WebhookRow))]
            ids = [row.id for row in rows]
            existing = set(
                session.execute(
                    select(DeliveryRow.webhook_id, DeliveryRow.event_id).where(
                        DeliveryRow.event_id.in_(ids)
                    )
                ).all()
            )
            for row in rows:
                gone = row.kb_id is not None and session.get(KnowledgeBaseRow, row.kb_id) is None
                for hook in hooks:
                    if gone or not hook.wants(row.type) or (hook.id, row.id) in existing:
                        continue
                    session.add(delivery_row(hook.id, row.type, row.id, row.body))
                session.delete(row)
            return len(rows)


class DeliveryClaims:
    """Makes a due delivery one process's to send: of two workers that both saw it due, the
    one whose conditional update moves its next attempt past ``lease_s`` sends it; if that
    worker dies, the delivery is due again once the lease has passed (same delivery id)."""

    def __init__(self, engine: Engine, lease_s: float) -> None:
        self._engine = engine
        self._lease_s = lease_s

    def __call__(self, delivery: Delivery) -> bool:
        """Whether this process won ``delivery``."""
        now = _now()
        with self._engine.begin() as connection:
            done = connection.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.id == delivery.id,
                    DeliveryRow.status.in_(OPEN),
                    DeliveryRow.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=self._lease_s))
            )
            return bool(done.rowcount)
