"""The audit log: who did which administrative action to what, and how it ended (same database
as the registry). Request bodies are never recorded."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql import Select

from kb.db.base import Base

# Actors that are not API keys or OAuth clients.
CLI_ACTOR = "cli"
ANONYMOUS_ACTOR = "anonymous"


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    actor: Mapped[str] = mapped_column(String(200), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    method: Mapped[str] = mapped_column(String(10), default="")
    route: Mapped[str] = mapped_column(String(400), default="")
    target: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    client: Mapped[str | None] = mapped_column(String(100), nullable=True)


@dataclass(frozen=True)
class AuditEntry:
    """One recorded action.

    ``action`` is a stable name such as ``key.create``; ``method`` and ``route`` are the HTTP
    request it came from (empty for the CLI); ``target`` holds the path parameters.
    """

    id: int
    at: datetime
    actor: str
    action: str
    method: str
    route: str
    target: dict[str, str]
    status: int
    request_id: str | None
    client: str | None


@dataclass(frozen=True)
class AuditEvent:
    """What to record; the time is added when it is stored."""

    actor: str
    action: str
    status: int
    method: str = ""
    route: str = ""
    target: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    client: str | None = None


def _to_entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=_utc(row.at),
        actor=row.actor,
        action=row.action,
        method=row.method,
        route=row.route,
        target=dict(row.target or {}),
        status=row.status,
        request_id=row.request_id,
        client=row.client,
    )


class AuditLog:
    """Appends audit entries and lists them newest first."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[AuditRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def record(self, event: AuditEvent) -> AuditEntry:
        """Store ``event``; entries are never updated or deleted through this class."""
        row = AuditRow(
            actor=event.actor[:200],
            action=event.action[:100],
            method=event.method[:10],
            route=event.route[:400],
            target={k: str(v)[:200] for k, v in event.target.items()},
            status=event.status,
            request_id=event.request_id,
            client=event.client[:100] if event.client else None,
        )
        with self._session() as session:
            session.add(row)
        return _to_entry(row)

    def list(
        self,
        limit: int,
        offset: int,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> tuple[list[AuditEntry], int]:
        """One page of entries, newest first, and how many match the filters in total."""
        query: Select[Any] = select(AuditRow)
        if actor is not None:
            query = query.where(AuditRow.actor == actor)
        if action is not None:
            query = query.where(AuditRow.action == action)
        if since is not None:
            query = query.where(AuditRow.at >= _utc(since).astimezone(UTC))
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            page = query.order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
            rows = session.scalars(page.offset(offset))
            return [_to_entry(row) for row in rows], total
