"""Leads: contact details a visitor leaves in a conversation, announced as ``lead.created``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, new_id
from kb.db.bounds import StorageLimits, check_state
from kb.db.conversations import Conversation
from kb.runtime.events import EventBus


def _now() -> datetime:
    return datetime.now(UTC)


class LeadRow(Base):
    __tablename__ = "leads"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(64), index=True)
    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    question: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True)
class LeadIn:
    """What a visitor leaves: already validated by the caller."""

    name: str
    email: str
    question: str = ""
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Lead:
    """A recorded lead with the conversation it came from."""

    id: str
    conversation_id: str
    kb_id: str
    user_id: str
    name: str
    email: str
    question: str
    fields: dict[str, str]
    created_at: datetime


def _to_lead(row: LeadRow) -> Lead:
    created = row.created_at
    return Lead(
        id=row.id,
        conversation_id=row.conversation_id,
        kb_id=row.kb_id,
        user_id=row.user_id,
        name=row.name,
        email=row.email,
        question=row.question,
        fields=dict(row.fields or {}),
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
    )


class LeadRepository:
    """Records leads and lists them per knowledge base."""

    def __init__(
        self, engine: Engine, events: EventBus, limits: StorageLimits | None = None
    ) -> None:
        Base.metadata.create_all(engine, tables=[LeadRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._events = events
        self._limits = limits or StorageLimits()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def record(self, conversation: Conversation, lead: LeadIn) -> Lead:
        """Store a lead of ``conversation`` and publish ``lead.created`` (LimitReached when the
        conversation has as many leads as one may, StateTooLarge when ``fields`` is too big)."""
        check_state(dict(lead.fields), "The lead's fields")
        row = LeadRow(
            id=new_id("lead"),
            conversation_id=conversation.id,
            kb_id=conversation.kb_id,
            user_id=conversation.user_id,
            name=lead.name,
            email=lead.email,
            question=lead.question,
            fields=dict(lead.fields),
        )
        with self._session() as session:
            held = session.scalar(
                select(func.count())
                .select_from(LeadRow)
                .where(LeadRow.conversation_id == conversation.id)
            )
            cap = self._limits.leads_per_conversation
            self._limits.check(held or 0, cap, "Leads of one conversation")
            session.add(row)
            session.flush()
            stored = _to_lead(row)
        self._events.publish(
            "lead.created",
            {
                "lead_id": stored.id,
                "conversation_id": stored.conversation_id,
                "kb_id": stored.kb_id,
                "user_id": stored.user_id,
                "name": stored.name,
                "email": stored.email,
                "question": stored.question,
                "fields": stored.fields,
            },
        )
        return stored

    def list(self, kb_id: str, limit: int = 50, offset: int = 0) -> tuple[list[Lead], int]:
        """A page of the knowledge base's leads, newest first, and their total."""
        where = LeadRow.kb_id == kb_id
        with self._session() as session:
            total = session.scalar(select(func.count()).select_from(LeadRow).where(where))
            rows = session.scalars(
                select(LeadRow)
                .where(where)
                .order_by(LeadRow.created_at.desc(), LeadRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [_to_lead(row) for row in rows], total or 0
