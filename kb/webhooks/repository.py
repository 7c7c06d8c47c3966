"""Webhook subscriptions and their delivery log (same database as the registry).

A subscription's secret is stored encrypted with the ``SecretBox``; a delivery keeps the exact
body it sends, so retries and redeliveries are byte-identical, and only a short snippet of what
the receiver answered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from kb.access.secrets import SecretBox
from kb.db.base import Base, KnowledgeBaseRow, new_id
from kb.errors import DeliveryNotFound, WebhookNotFound
from kb.runtime.events import Event
from kb.webhooks.models import OPEN, SNIPPET_CHARS, Attempt, Delivery, Webhook, event_body
from kb.webhooks.tables import (
    DeliveryRow,
    WebhookRow,
    add_kb_id_column,
    delivery_row,
    kb_of,
    now,
    to_delivery,
    to_webhook,
    utc,
)


class WebhookRepository:
    """Stores subscriptions (secrets encrypted) and the log of their deliveries."""

    def __init__(self, engine: Engine, box: SecretBox) -> None:
        tables = [WebhookRow.__table__, DeliveryRow.__table__]
        Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
        add_kb_id_column(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._box = box

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def create(self, url: str, events: Sequence[str], secret: str, description: str) -> Webhook:
        """A new active subscription; ``secret`` is stored encrypted."""
        row = WebhookRow(
            id=new_id("wh"),
            url=url,
            events=sorted(set(events)),
            description=description,
            secret_encrypted=self._box.encrypt(secret),
            active=True,
        )
        with self._session() as session:
            session.add(row)
            session.flush()
            return to_webhook(row)

    def all(self) -> list[Webhook]:
        """Every subscription, newest first."""
        with self._session() as session:
            rows = session.scalars(select(WebhookRow).order_by(WebhookRow.created_at.desc()))
            return [to_webhook(row) for row in rows]

    def get(self, webhook_id: str) -> Webhook:
        """One subscription, or WebhookNotFound."""
        with self._session() as session:
            return to_webhook(_webhook_row(session, webhook_id))

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        active: bool | None = None,
        description: str | None = None,
    ) -> Webhook:
        """Change the given fields (None leaves a field as it is)."""
        with self._session() as session:
            row = _webhook_row(session, webhook_id)
            if url is not None:
                row.url = url
            if events is not None:
                row.events = sorted(set(events))
            if active is not None:
                row.active = active
                if active:  # a fresh start for a subscription that was paused
                    row.consecutive_failures = 0
                    row.disabled_reason = None
            if description is not None:
                row.description = description
            row.updated_at = now()
            session.flush()
            return to_webhook(row)

    def delete(self, webhook_id: str) -> None:
        """Remove a subscription and its delivery log."""
        with self._session() as session:
            row = _webhook_row(session, webhook_id)
            for delivery in session.scalars(
                select(DeliveryRow).where(DeliveryRow.webhook_id == webhook_id)
            ):
                session.delete(delivery)
            session.delete(row)

    def signing_secrets(self, webhook_id: str) -> list[str]:
        """The secrets to sign with, decrypted: the current one, then a rotated-out one still
        inside its grace period."""
        with self._session() as session:
            row = _webhook_row(session, webhook_id)
            found = [self._box.decrypt(row.secret_encrypted)]
            expires = utc(row.previous_expires_at)
            if row.previous_secret_encrypted and expires and expires > now():
                found.append(self._box.decrypt(row.previous_secret_encrypted))
            return found

    def rotate_secret(self, webhook_id: str, secret: str, grace: timedelta) -> Webhook:
        """Make ``secret`` the signing secret; the old one also signs for ``grace``."""
        with self._session() as session:
            row = _webhook_row(session, webhook_id)
            row.previous_secret_encrypted = row.secret_encrypted if grace > timedelta(0) else None
            row.previous_expires_at = now() + grace if grace > timedelta(0) else None
            row.secret_encrypted = self._box.encrypt(secret)
            row.updated_at = now()
            session.flush()
            return to_webhook(row)

    def enqueue(self, event: Event) -> list[Delivery]:
        """A pending delivery of ``event`` for each active subscription that wants it; none
        when the knowledge base it is about is gone (deleted while the event was under way)."""
        body = event_body(event)
        with self._session() as session:
            kb_id = kb_of(body)
            if kb_id is not None and session.get(KnowledgeBaseRow, kb_id) is None:
                return []
            rows = [
                delivery_row(hook.id, event.type, event.id, body)
                for hook in map(to_webhook, session.scalars(select(WebhookRow)))
                if hook.wants(event.type)
            ]
            session.add_all(rows)
            session.flush()
            return [to_delivery(row) for row in rows]

    def add_delivery(self, webhook_id: str, event: str, event_id: str, body: str) -> Delivery:
        """A pending delivery of a given body (pings and redeliveries)."""
        with self._session() as session:
            _webhook_row(session, webhook_id)
            row = delivery_row(webhook_id, event, event_id, body)
            session.add(row)
            session.flush()
            return to_delivery(row)

    def deliveries(
        self, webhook_id: str, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> tuple[list[Delivery], int]:
        """A page of the subscription's deliveries, newest first, and their total."""
        with self._session() as session:
            _webhook_row(session, webhook_id)
            where = [DeliveryRow.webhook_id == webhook_id]
            if status is not None:
                where.append(DeliveryRow.status == status)
            total = session.scalar(select(func.count()).select_from(DeliveryRow).where(*where))
            rows = session.scalars(
                select(DeliveryRow)
                .where(*where)
                .order_by(DeliveryRow.created_at.desc(), DeliveryRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [to_delivery(row) for row in rows], total or 0

    def get_delivery(self, webhook_id: str, delivery_id: str) -> Delivery:
        """One delivery of the subscription, or DeliveryNotFound."""
        with self._session() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or row.webhook_id != webhook_id:
                raise DeliveryNotFound(f"No delivery {delivery_id!r} for webhook {webhook_id!r}.")
            return to_delivery(row)

    def due(self, now: datetime, limit: int, skip: Sequence[str] = ()) -> list[Delivery]:
        """Open deliveries of active subscriptions whose next attempt is due, oldest first."""
        with self._session() as session:
            rows = session.scalars(
                select(DeliveryRow)
                .join(WebhookRow, WebhookRow.id == DeliveryRow.webhook_id)
                .where(
                    WebhookRow.active.is_(True),
                    DeliveryRow.status.in_(OPEN),
                    DeliveryRow.next_attempt_at <= now,
                    DeliveryRow.id.not_in(list(skip)),
                )
                .order_by(DeliveryRow.next_attempt_at)
                .limit(limit)
            )
            return [to_delivery(row) for row in rows]

    def next_due_at(self) -> datetime | None:
        """When the earliest open delivery of an active subscription is due."""
        with self._session() as session:
            return utc(
                session.scalar(
                    select(func.min(DeliveryRow.next_attempt_at))
                    .join(WebhookRow, WebhookRow.id == DeliveryRow.webhook_id)
                    .where(WebhookRow.active.is_(True), DeliveryRow.status.in_(OPEN))
                )
            )

    def record(self, delivery_id: str, attempt: Attempt, disable_after: int = 0) -> Delivery | None:
        """Count one attempt on a delivery (None when it was deleted meanwhile). After
        ``disable_after`` deliveries in a row end failed (0: never), the subscription is
        paused and says why."""
        with self._session() as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None:
                return None
            hook = session.get(WebhookRow, row.webhook_id)
            if hook is not None and attempt.status in ("succeeded", "failed"):
                failed = attempt.status == "failed"
                hook.consecutive_failures = (hook.consecutive_failures or 0) + 1 if failed else 0
                if failed and hook.active and 0 < disable_after <= hook.consecutive_failures:
                    hook.active = False
                    hook.disabled_reason = (
                        f"paused after {hook.consecutive_failures} failed deliveries in a row; "
                        f"last error: {attempt.error or 'unknown'}"
                    )[:500]
                    hook.updated_at = now()
            row.attempts += 1
            row.status = attempt.status
            row.last_status_code = attempt.status_code
            row.last_error = attempt.error[:SNIPPET_CHARS] if attempt.error else None
            row.last_response = attempt.response[:SNIPPET_CHARS] if attempt.response else None
            row.next_attempt_at = attempt.next_attempt_at
            if attempt.status == "succeeded":
                row.delivered_at = now()
            session.flush()
            return to_delivery(row)


def _webhook_row(session: Session, webhook_id: str) -> WebhookRow:
    row = session.get(WebhookRow, webhook_id)
    if row is None:
        raise WebhookNotFound(f"No webhook has the id {webhook_id!r}.")
    return row
