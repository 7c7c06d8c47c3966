"""Chat-widget settings per knowledge base: one row holding the validated settings as JSON."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, now, utc


class WidgetRow(Base):
    __tablename__ = "widgets"

    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class WidgetRepository:
    """Stores each knowledge base's widget settings (validated by the caller)."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[WidgetRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def get(self, kb_id: str) -> tuple[dict[str, Any], datetime | None]:
        """The stored settings and when they were saved; ``({}, None)`` when never saved."""
        with self._session() as session:
            row = session.get(WidgetRow, kb_id)
            if row is None:
                return {}, None
            return dict(row.settings or {}), utc(row.updated_at)

    def put(self, kb_id: str, settings: dict[str, Any]) -> datetime:
        """Replace the knowledge base's settings; when they were saved."""
        with self._session() as session:
            row = session.get(WidgetRow, kb_id)
            if row is None:
                row = WidgetRow(kb_id=kb_id)
                session.add(row)
            row.settings = dict(settings)
            row.updated_at = now()
            session.flush()
            return utc(row.updated_at)
