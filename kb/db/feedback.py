"""Feedback on bot messages: thumbs up or down with an optional comment, announced as
``message.feedback`` (same database as the registry).

One feedback per message: a new one replaces the previous one (the visitor changed their mind).
Only bot messages take feedback; the caller checks that the message's conversation is theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, new_id
from kb.db.conversations import ConversationRow, MessageRow
from kb.errors import InvalidInput, MessageNotFound
from kb.runtime.events import EventBus
from kb.text.pii import mask_pii

Rating = Literal["up", "down"]
MAX_COMMENT_CHARS = 2000
_VALUE: dict[Rating, int] = {"up": 1, "down": -1}


def _now() -> datetime:
    return datetime.now(UTC)


class FeedbackRow(Base):
    __tablename__ = "message_feedback"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # One feedback per message: unique, replaced on a new one.
    message_id: Mapped[str] = mapped_column(
        String(64),
        ForeignKey("conversation_messages.id", ondelete="CASCADE"),
        unique=True,
    )
    conversation_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(String(200), index=True)
    rating: Mapped[int] = mapped_column(Integer)  # +1 or -1
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


@dataclass(frozen=True)
class Feedback:
    """A rating left on one bot message."""

    id: str
    message_id: str
    conversation_id: str
    kb_id: str
    user_id: str
    rating: Rating
    comment: str | None
    created_at: datetime


def not_found(message_id: str) -> MessageNotFound:
    """The one answer for a message that is missing or not the caller's."""
    return MessageNotFound(f"No message with id {message_id!r}.")


class FeedbackRepository:
    """Records feedback on bot messages and reads it back per message."""

    def __init__(self, engine: Engine, events: EventBus, mask_pii: bool = False) -> None:
        Base.metadata.create_all(engine, tables=[FeedbackRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._events = events
        self._mask = mask_pii

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def conversation_of(self, message_id: str) -> str:
        """The id of the message's conversation (MessageNotFound when there is none)."""
        with self._session() as session:
            found = session.scalar(
                select(MessageRow.conversation_id).where(MessageRow.id == message_id)
            )
        if found is None:
            raise not_found(message_id)
        return found

    def record(self, message_id: str, rating: Rating, comment: str | None = None) -> Feedback:
        """Store (or replace) the feedback on a bot message and publish ``message.feedback``
        (MessageNotFound, InvalidInput for a message that is not the bot's)."""
        comment = (comment or "").strip()[:MAX_COMMENT_CHARS] or None
        if comment and self._mask:
            comment = mask_pii(comment)
        with self._session() as session:
            message = session.scalar(select(MessageRow).where(MessageRow.id == message_id))
            if message is None:
                raise not_found(message_id)
            if message.role != "bot":
                raise InvalidInput(
                    f"Only the bot's messages take feedback; {message_id!r} is a "
                    f"{message.role} message."
                )
            conversation = session.get(ConversationRow, message.conversation_id)
            assert conversation is not None  # a message's conversation exists (foreign key)
            row = session.scalar(select(FeedbackRow).where(FeedbackRow.message_id == message_id))
            if row is None:
                row = FeedbackRow(id=new_id("fb"), message_id=message_id)
                session.add(row)
            row.conversation_id = conversation.id
            row.kb_id, row.user_id = conversation.kb_id, conversation.user_id
            row.rating, row.comment, row.created_at = _VALUE[rating], comment, _now()
            session.flush()
            stored = _to_feedback(row)
        self._events.publish(
            "message.feedback",
            {
                "feedback_id": stored.id,
                "message_id": stored.message_id,
                "conversation_id": stored.conversation_id,
                "kb_id": stored.kb_id,
                "user_id": stored.user_id,
                "rating": stored.rating,
                "comment": stored.comment,
            },
        )
        return stored

    def of_messages(self, message_ids: Iterable[str]) -> dict[str, Feedback]:
        """The feedback left on each of these messages that has one, by message id."""
        ids = list(message_ids)
        if not ids:
            return {}
        with self._session() as session:
            rows = session.scalars(select(FeedbackRow).where(FeedbackRow.message_id.in_(ids)))
            return {row.message_id: _to_feedback(row) for row in rows}


def _to_feedback(row: FeedbackRow) -> Feedback:
    created = row.created_at
    return Feedback(
        id=row.id,
        message_id=row.message_id,
        conversation_id=row.conversation_id,
        kb_id=row.kb_id,
        user_id=row.user_id,
        rating="up" if row.rating > 0 else "down",
        comment=row.comment,
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
    )
