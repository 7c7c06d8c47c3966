"""Conversations, their messages, events and variables, and user profiles (same database as the
registry)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, new_id
from kb.errors import ConversationNotFound

Role = Literal["user", "bot"]
EventType = Literal["typing", "read"]


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Conversation:
    """A thread between one user and the bot of one knowledge base."""

    id: str
    kb_id: str
    user_id: str
    variables: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    read_at: datetime | None = None
    typing_at: datetime | None = None


@dataclass(frozen=True)
class Message:
    """One message of a conversation; bot messages carry their citations and grounding."""

    id: str
    conversation_id: str
    role: Role
    text: str
    created_at: datetime
    action: dict[str, Any] | None = None
    standalone_question: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    grounded: bool | None = None
    model: str | None = None


@dataclass(frozen=True)
class ConversationEvent:
    """A status event (typing, read) sent by the user's client."""

    id: str
    conversation_id: str
    type: EventType
    created_at: datetime


@dataclass(frozen=True)
class UserProfile:
    """Attributes of a user the bot may use."""

    user_id: str
    name: str | None = None
    language: str | None = None
    plan: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    updated_at: datetime | None = None


class ConversationRow(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    typing_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class MessageRow(Base):
    __tablename__ = "conversation_messages"

    # An integer key gives a strict insertion order even when timestamps tie.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(10))
    text: Mapped[str] = mapped_column(Text)
    action: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    standalone_question: Mapped[str | None] = mapped_column(Text, nullable=True)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    grounded: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ConversationEventRow(Base):
    __tablename__ = "conversation_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class UserProfileRow(Base):
    __tablename__ = "user_profiles"

    user_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str | None] = mapped_column(Text, nullable=True)
    language: Mapped[str | None] = mapped_column(String(35), nullable=True)
    plan: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class ConversationRepository:
    """Stores conversations, messages, events, variables and user profiles."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def create(self, kb_id: str, user_id: str) -> Conversation:
        """Start a new conversation."""
        with self._session() as session:
            row = ConversationRow(id=new_id("conv"), kb_id=kb_id, user_id=user_id, variables={})
            session.add(row)
            session.flush()
            return _to_conversation(row)

    def get(self, conversation_id: str) -> Conversation:
        """The conversation with this id, or ConversationNotFound."""
        with self._session() as session:
            return _to_conversation(_row(session, conversation_id))

    def add_message(self, conversation_id: str, role: Role, text: str, **fields: Any) -> Message:
        """Append a message (``fields``: action, standalone_question, citations, grounded,
        model)."""
        with self._session() as session:
            conversation = _row(session, conversation_id)
            row = MessageRow(
                id=new_id("msg"), conversation_id=conversation_id, role=role, text=text, **fields
            )
            session.add(row)
            conversation.updated_at = _now()
            session.flush()
            return _to_message(row)

    def messages(
        self, conversation_id: str, limit: int = 50, offset: int = 0
    ) -> tuple[list[Message], int]:
        """A page of the conversation's messages, oldest first, and the total count."""
        with self._session() as session:
            _row(session, conversation_id)
            where = MessageRow.conversation_id == conversation_id
            total = session.scalar(select(func.count()).select_from(MessageRow).where(where)) or 0
            rows = session.scalars(
                select(MessageRow).where(where).order_by(MessageRow.seq).limit(limit).offset(offset)
            ).all()
            return [_to_message(row) for row in rows], total

    def recent_messages(self, conversation_id: str, count: int) -> list[Message]:
        """The last ``count`` messages, oldest first."""
        with self._session() as session:
            rows = session.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == conversation_id)
                .order_by(MessageRow.seq.desc())
                .limit(count)
            ).all()
            return [_to_message(row) for row in reversed(rows)]

    def set_variables(self, conversation_id: str, variables: dict[str, Any]) -> Conversation:
        """Replace the conversation's variables."""
        with self._session() as session:
            row = _row(session, conversation_id)
            row.variables = dict(variables)
            row.updated_at = _now()
            session.flush()
            return _to_conversation(row)

    def add_event(self, conversation_id: str, type_: EventType) -> ConversationEvent:
        """Record a typing or read event and update the conversation's status."""
        with self._session() as session:
            conversation = _row(session, conversation_id)
            row = ConversationEventRow(
                id=new_id("evt"), conversation_id=conversation_id, type=type_, created_at=_now()
            )
            session.add(row)
            if type_ == "read":
                conversation.read_at = row.created_at
            else:
                conversation.typing_at = row.created_at
            session.flush()
            return ConversationEvent(row.id, conversation_id, type_, row.created_at)

    def get_profile(self, user_id: str) -> UserProfile:
        """The user's profile; an empty one when none was saved."""
        with self._session() as session:
            row = session.get(UserProfileRow, user_id)
            return _to_profile(row) if row else UserProfile(user_id=user_id)

    def put_profile(self, profile: UserProfile) -> UserProfile:
        """Create or replace the user's profile."""
        with self._session() as session:
            row = session.get(UserProfileRow, profile.user_id) or UserProfileRow(
                user_id=profile.user_id
            )
            row.name, row.language, row.plan = profile.name, profile.language, profile.plan
            row.attributes = dict(profile.attributes)
            row.updated_at = _now()
            session.add(row)
            session.flush()
            return _to_profile(row)


def _row(session: Session, conversation_id: str) -> ConversationRow:
    row = session.get(ConversationRow, conversation_id)
    if row is None:
        raise ConversationNotFound(f"No conversation with id {conversation_id!r}.")
    return row


def _to_conversation(row: ConversationRow) -> Conversation:
    return Conversation(
        id=row.id,
        kb_id=row.kb_id,
        user_id=row.user_id,
        variables=dict(row.variables or {}),
        created_at=_utc(row.created_at) or _now(),
        updated_at=_utc(row.updated_at) or _now(),
        read_at=_utc(row.read_at),
        typing_at=_utc(row.typing_at),
    )


def _to_message(row: MessageRow) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        role="bot" if row.role == "bot" else "user",
        text=row.text,
        created_at=_utc(row.created_at) or _now(),
        action=row.action,
        standalone_question=row.standalone_question,
        citations=list(row.citations or []),
        grounded=row.grounded,
        model=row.model,
    )


def _to_profile(row: UserProfileRow) -> UserProfile:
    return UserProfile(
        user_id=row.user_id,
        name=row.name,
        language=row.language,
        plan=row.plan,
        attributes=dict(row.attributes or {}),
        updated_at=_utc(row.updated_at),
    )
