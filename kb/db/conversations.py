"""Conversations, their messages, events and variables (same database as the registry).

Everything a caller can make a conversation grow by is bounded here, where it is written: its
variables (``kb.db.bounds.check_state``, after any merge), its messages (their count and the
bytes they take in all) and kept events, and the conversations of one user of a knowledge base
(``StorageLimits``). A conversation started
through a publishable key is bound to the visitor by a token only its hash of which is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, new_id
from kb.db.bounds import StorageLimits, check_state, message_size
from kb.errors import ConversationNotFound
from kb.text.pii import mask_pii as _mask

Role = Literal["user", "bot", "agent"]
EventType = Literal["typing", "read"]


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def new_visitor_token() -> str:
    """A visitor token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def _token_hash(token: str) -> str:
    # 256 random bits: a plain SHA-256 can be neither reversed nor guessed.
    return hashlib.sha256(token.encode()).hexdigest()


def not_found(conversation_id: str) -> ConversationNotFound:
    """The one answer for a conversation that is missing or not the caller's, so neither
    confirms that it exists."""
    return ConversationNotFound(f"No conversation with id {conversation_id!r}.")


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
    # Set when the conversation was started through a publishable key (a visitor's browser).
    visitor_token_hash: str | None = field(default=None, repr=False)
    state: str = "bot"
    handoff_at: datetime | None = None
    handoff_reason: str | None = None

    @property
    def visitor_bound(self) -> bool:
        """Started by a visitor: reachable through publishable keys only with its token."""
        return self.visitor_token_hash is not None

    def admits_visitor(self, token: str | None) -> bool:
        """Whether ``token`` is this conversation's visitor token."""
        if self.visitor_token_hash is None or not token:
            return False
        return hmac.compare_digest(_token_hash(token), self.visitor_token_hash)


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
    # A person's reply (role "agent"): the name the visitor is shown.
    agent_name: str | None = None
    # Insertion order within the database: a cursor for polling (engine.handoff).
    seq: int = 0
    # Bot messages: milliseconds from receiving the question to the complete answer.
    latency_ms: int | None = None


@dataclass(frozen=True)
class ConversationEvent:
    """A status event (typing, read) sent by the user's client."""

    id: str
    conversation_id: str
    type: EventType
    created_at: datetime


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
    visitor_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Bytes its messages take (kb.db.bounds.message_size); NULL on rows older than the column.
    stored_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Who answers (engine.handoff): bot, waiting_for_agent, agent or closed.
    state: Mapped[str] = mapped_column(String(20), default="bot", server_default="bot")
    handoff_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    handoff_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)


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
    agent_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The conversation's, copied so analytics read a period's messages from one index.
    kb_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class CitationRow(Base):
    """A document a bot message cites, once per message: analytics count citations without
    reading the citations' JSON (which holds the passages' text)."""

    __tablename__ = "message_citations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversation_messages.id", ondelete="CASCADE"), index=True
    )
    kb_id: Mapped[str] = mapped_column(String(64))
    document_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# Analytics read messages and conversations by period (kb.db.analytics); created on older
# databases too.
ANALYTICS_INDEXES = (
    Index(
        "ix_conversation_messages_kb_period",
        MessageRow.kb_id,
        MessageRow.created_at,
        MessageRow.role,
        MessageRow.grounded,
        MessageRow.latency_ms,
        MessageRow.conversation_id,
    ),
    Index("ix_conversation_messages_conversation_seq", MessageRow.conversation_id, MessageRow.seq),
    Index("ix_conversations_kb_created", ConversationRow.kb_id, ConversationRow.created_at),
    Index(
        "ix_message_citations_kb_period",
        CitationRow.kb_id,
        CitationRow.created_at,
        CitationRow.document_id,
    ),
)


class ConversationEventRow(Base):
    __tablename__ = "conversation_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


# Columns added after the table was first released, created on databases that lack them.
_ADDED_COLUMNS = {
    "visitor_token_hash": "VARCHAR(64)",
    "stored_bytes": "INTEGER",
    "state": "VARCHAR(20) NOT NULL DEFAULT 'bot'",
    "handoff_at": "TIMESTAMP WITH TIME ZONE",
    "handoff_reason": "VARCHAR(40)",
}


_ADDED_MESSAGE_COLUMNS = {
    "agent_name": "VARCHAR(200)",
    "latency_ms": "INTEGER",
    "kb_id": "VARCHAR(64)",
}
# Messages stored before they carried their knowledge base get their conversation's.
_BACKFILL_KB = (
    "UPDATE conversation_messages SET kb_id = (SELECT c.kb_id FROM conversations AS c"
    " WHERE c.id = conversation_messages.conversation_id) WHERE kb_id IS NULL"
)


def cited_documents(citations: list[dict[str, Any]] | None) -> list[str]:
    """The distinct document ids of a message's citations, in order."""
    found = (c.get("document_id") for c in citations or () if isinstance(c, dict))
    return list(dict.fromkeys(d for d in found if isinstance(d, str)))


def _backfill_citations(engine: Engine) -> None:
    """Fill ``message_citations`` from the messages stored before it existed."""
    with engine.begin() as connection:
        rows = connection.execute(
            select(
                MessageRow.id, MessageRow.kb_id, MessageRow.citations, MessageRow.created_at
            ).where(MessageRow.role == "bot")
        )
        cited = [
            {"message_id": i, "kb_id": kb, "document_id": d, "created_at": at}
            for i, kb, citations, at in rows
            for d in cited_documents(citations)
            if kb
        ]
        if cited:
            connection.execute(insert(CitationRow), cited)


def _add_missing_columns(engine: Engine) -> None:
    had_kb_id = "kb_id" in {c["name"] for c in inspect(engine).get_columns("conversation_messages")}
    for table, added in (
        (ConversationRow.__tablename__, _ADDED_COLUMNS),
        (MessageRow.__tablename__, _ADDED_MESSAGE_COLUMNS),
    ):
        present = {c["name"] for c in inspect(engine).get_columns(table)}
        with engine.begin() as connection:
            for name, ddl in added.items():
                if name not in present:
                    connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))
    if not had_kb_id:
        with engine.begin() as connection:
            connection.execute(text(_BACKFILL_KB))
    for index in ANALYTICS_INDEXES:
        index.create(engine, checkfirst=True)


class ConversationRepository:
    """Stores conversations, messages, events and variables, within ``limits``."""

    def __init__(
        self, engine: Engine, limits: StorageLimits | None = None, mask_pii: bool = False
    ) -> None:
        # ``mask_pii``: e-mail addresses and phone numbers in message texts are masked when
        # stored (kb.text.pii).
        self.mask_pii = mask_pii
        tables = [ConversationRow, MessageRow, ConversationEventRow, CitationRow]
        new_citations = CitationRow.__tablename__ not in inspect(engine).get_table_names()
        Base.metadata.create_all(engine, tables=[t.__table__ for t in tables])  # type: ignore[misc]
        _add_missing_columns(engine)
        if new_citations:
            _backfill_citations(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.limits = limits or StorageLimits()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def create(self, kb_id: str, user_id: str, visitor_token: str | None = None) -> Conversation:
        """Start a new conversation, bound to ``visitor_token`` when given (LimitReached when
        the user has as many conversations in this knowledge base as one may)."""
        with self._session() as session:
            held = session.scalar(
                select(func.count())
                .select_from(ConversationRow)
                .where(ConversationRow.kb_id == kb_id, ConversationRow.user_id == user_id)
            )
            self.limits.check(
                held or 0,
                self.limits.conversations_per_user,
                "Conversations of one user in a knowledge base",
            )
            row = ConversationRow(
                id=new_id("conv"),
                kb_id=kb_id,
                user_id=user_id,
                variables={},
                stored_bytes=0,
                visitor_token_hash=_token_hash(visitor_token) if visitor_token else None,
            )
            session.add(row)
            session.flush()
            return _to_conversation(row)

    def get(self, conversation_id: str) -> Conversation:
        """The conversation with this id, or ConversationNotFound."""
        with self._session() as session:
            return _to_conversation(_row(session, conversation_id))

    def check_room_for_turn(self, conversation_id: str) -> None:
        """LimitReached when the conversation cannot take one more message and its reply."""
        with self._session() as session:
            self._check_room(session, _row(session, conversation_id))

    def _check_room(self, session: Session, conversation: ConversationRow) -> None:
        # Full once its messages take the byte cap: the turn that crosses it is kept whole, so
        # a conversation ends at most one turn over, and this check and the store agree.
        self.limits.check_bytes(self._stored_bytes(session, conversation))
        cap = self.limits.messages_per_conversation
        if not cap:
            return
        conversation_id = conversation.id
        held = session.scalar(
            select(func.count())
            .select_from(MessageRow)
            .where(MessageRow.conversation_id == conversation_id)
        )
        # A user message keeps room for its reply: the pair is refused, never half-stored.
        self.limits.check(
            (held or 0) + 1, cap, "Messages of one conversation (start a new conversation)"
        )

    def add_message(
        self, conversation_id: str, role: Role, text: str, state: str | None = None, **fields: Any
    ) -> Message:
        """Append a message (``fields``: action, standalone_question, citations, grounded,
        model); a user message needs room for itself and its reply (LimitReached). ``state``
        sets the conversation's state in the same transaction (an agent's reply takes it), so
        a reader never sees one without the other."""
        if self.mask_pii:
            text = _mask(text)
            if fields.get("standalone_question"):
                fields["standalone_question"] = _mask(fields["standalone_question"])
        with self._session() as session:
            conversation = _row(session, conversation_id)
            if role == "user":
                self._check_room(session, conversation)
            held = self._stored_bytes(session, conversation)  # before the new row is added
            row = MessageRow(
                id=new_id("msg"),
                conversation_id=conversation_id,
                kb_id=conversation.kb_id,
                role=role,
                text=text,
                created_at=_now(),
                **fields,
            )
            session.add(row)
            session.flush()  # before its citations: no relationship orders the inserts (PostgreSQL)
            for document_id in cited_documents(fields.get("citations")):
                session.add(
                    CitationRow(
                        message_id=row.id,
                        kb_id=conversation.kb_id,
                        document_id=document_id,
                        created_at=row.created_at,
                    )
                )
            conversation.stored_bytes = held + message_size(text, **fields)
            conversation.updated_at = _now()
            if state is not None:
                conversation.state = state
            session.flush()
            return _to_message(row)

    @staticmethod
    def _stored_bytes(session: Session, conversation: ConversationRow) -> int:
        if conversation.stored_bytes is None:
            # Stored before the count was kept: counted once from its messages (at most the
            # message cap of them), then kept up to date.
            rows = session.scalars(
                select(MessageRow).where(MessageRow.conversation_id == conversation.id)
            )
            conversation.stored_bytes = sum(
                message_size(
                    m.text,
                    action=m.action,
                    standalone_question=m.standalone_question,
                    citations=m.citations,
                )
                for m in rows
            )
        return conversation.stored_bytes

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
        """Replace the conversation's variables (StateTooLarge over the bound)."""
        return self._write_variables(conversation_id, variables, merge=False)

    def merge_variables(self, conversation_id: str, updates: dict[str, Any]) -> Conversation:
        """Merge ``updates`` into the conversation's variables, in one transaction
        (StateTooLarge when the result is over the bound; nothing is written then)."""
        return self._write_variables(conversation_id, updates, merge=True)

    def _write_variables(
        self, conversation_id: str, variables: dict[str, Any], merge: bool
    ) -> Conversation:
        # The one place variables are written: every path is held to the same bound.
        with self._session() as session:
            row = _row(session, conversation_id)
            merged = {**(row.variables or {}), **variables} if merge else dict(variables)
            row.variables = check_state(merged, "The conversation's variables")
            row.updated_at = _now()
            session.flush()
            return _to_conversation(row)

    def add_event(self, conversation_id: str, type_: EventType) -> ConversationEvent:
        """Record a typing or read event and update the conversation's status; only the latest
        ``limits.events_per_conversation`` events are kept."""
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
            self._prune_events(session, conversation_id)
            return ConversationEvent(row.id, conversation_id, type_, row.created_at)

    def _prune_events(self, session: Session, conversation_id: str) -> None:
        # A client sends typing events all the time: keep the latest, never refuse one.
        keep = self.limits.events_per_conversation
        if not keep:
            return
        of_conversation = ConversationEventRow.conversation_id == conversation_id
        kept = (
            select(ConversationEventRow.id)
            .where(of_conversation)
            .order_by(ConversationEventRow.created_at.desc(), ConversationEventRow.id.desc())
            .limit(keep)
        )
        session.execute(
            delete(ConversationEventRow).where(
                of_conversation, ConversationEventRow.id.not_in(kept.scalar_subquery())
            )
        )


def _row(session: Session, conversation_id: str) -> ConversationRow:
    row = session.get(ConversationRow, conversation_id)
    if row is None:
        raise not_found(conversation_id)
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
        visitor_token_hash=row.visitor_token_hash,
        state=row.state or "bot",
        handoff_at=_utc(row.handoff_at),
        handoff_reason=row.handoff_reason,
    )


def _to_message(row: MessageRow) -> Message:
    return Message(
        id=row.id,
        conversation_id=row.conversation_id,
        role=row.role if row.role in ("bot", "agent") else "user",  # type: ignore[arg-type]
        text=row.text,
        created_at=_utc(row.created_at) or _now(),
        action=row.action,
        standalone_question=row.standalone_question,
        citations=list(row.citations or []),
        grounded=row.grounded,
        model=row.model,
        agent_name=row.agent_name,
        seq=row.seq or 0,
        latency_ms=row.latency_ms,
    )
