"""Human handoff in the registry database: each knowledge base's handoff settings (one JSON row,
validated by the caller), a conversation's state transitions, and its messages after a cursor.

A conversation's state (``bot``, ``waiting_for_agent``, ``agent``, ``closed``) lives on its row
(``kb.db.conversations.ConversationRow``); a transition is one conditional write, so two agents
or an agent and the policy racing on one conversation cannot both win.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import JSON, DateTime, ForeignKey, String, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, now, utc
from kb.db.conversations import (
    Conversation,
    ConversationRow,
    Message,
    MessageRow,
    _to_conversation,
    _to_message,
    not_found,
)
from kb.errors import Conflict

ConversationState = Literal["bot", "waiting_for_agent", "agent", "closed"]
STATES: tuple[ConversationState, ...] = get_args(ConversationState)
# States in which a person, not the bot, answers the visitor.
HELD: tuple[ConversationState, ...] = ("waiting_for_agent", "agent")
REASON_CHARS = 40


class HandoffSettingsRow(Base):
    __tablename__ = "handoff_settings"

    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), primary_key=True
    )
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class HandoffRepository:
    """Handoff settings per knowledge base, state transitions, and messages after a cursor."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[HandoffSettingsRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def get_settings(self, kb_id: str) -> tuple[dict[str, Any], datetime | None]:
        """The stored settings and when they were saved; ``({}, None)`` when never saved."""
        with self._session() as session:
            row = session.get(HandoffSettingsRow, kb_id)
            if row is None:
                return {}, None
            return dict(row.settings or {}), utc(row.updated_at)

    def put_settings(self, kb_id: str, settings: dict[str, Any]) -> datetime:
        """Replace the knowledge base's handoff settings; when they were saved."""
        with self._session() as session:
            row = session.get(HandoffSettingsRow, kb_id)
            if row is None:
                row = HandoffSettingsRow(kb_id=kb_id)
                session.add(row)
            row.settings = dict(settings)
            row.updated_at = now()
            session.flush()
            return utc(row.updated_at)

    def transition(
        self,
        conversation_id: str,
        to: ConversationState,
        allowed_from: tuple[ConversationState, ...],
        reason: str | None = None,
    ) -> Conversation:
        """Move the conversation to ``to`` if it is in one of ``allowed_from`` (Conflict
        otherwise); entering ``waiting_for_agent`` stamps ``handoff_at`` and the reason."""
        values: dict[str, Any] = {"state": to, "updated_at": now()}
        if to == "waiting_for_agent":
            values["handoff_at"] = values["updated_at"]
            values["handoff_reason"] = (reason or "api")[:REASON_CHARS]
        with self._session() as session:
            done = session.execute(
                update(ConversationRow)
                .where(
                    ConversationRow.id == conversation_id,
                    ConversationRow.state.in_(allowed_from),
                )
                .values(**values)
            )
            row = session.get(ConversationRow, conversation_id)
            if row is None:
                raise not_found(conversation_id)
            if not done.rowcount:  # type: ignore[attr-defined]
                raise Conflict(
                    f"The conversation is {row.state!r}; it can become {to!r} only from "
                    f"{', '.join(repr(s) for s in allowed_from)}.",
                    state=row.state,
                )
            session.refresh(row)
            return _to_conversation(row)

    def messages_after(self, conversation_id: str, after: int, limit: int) -> list[Message]:
        """Up to ``limit`` of the conversation's messages stored after cursor ``after`` (a
        message's ``seq``), oldest first."""
        with self._session() as session:
            if session.get(ConversationRow, conversation_id) is None:
                raise not_found(conversation_id)
            rows = session.scalars(
                select(MessageRow)
                .where(MessageRow.conversation_id == conversation_id, MessageRow.seq > after)
                .order_by(MessageRow.seq)
                .limit(limit)
            ).all()
            return [_to_message(row) for row in rows]

    def last_seq(self, conversation_id: str) -> int:
        """The cursor of the conversation's latest message (0 when it has none)."""
        with self._session() as session:
            latest = session.scalar(
                select(MessageRow.seq)
                .where(MessageRow.conversation_id == conversation_id)
                .order_by(MessageRow.seq.desc())
                .limit(1)
            )
            return int(latest or 0)
