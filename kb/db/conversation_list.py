"""Finding conversations: a page of them, newest first, filtered by knowledge base, start date
and whether every question was answered from the knowledge base (the console's list; the
transcripts themselves come from ``ConversationRepository.messages``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from kb.db.conversations import ConversationRow, MessageRow


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ConversationFilter:
    """Which conversations: ``kb_ids`` (None: all), started in ``[start, end)``, and with
    ``answered`` True only those whose every bot answer was grounded, False those with at least
    one that was not (None: both)."""

    kb_ids: Collection[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    answered: bool | None = None


@dataclass(frozen=True)
class ConversationSummary:
    """One row of the list: who, when, how long, the first question, and how many answers
    were not grounded."""

    id: str
    kb_id: str
    user_id: str
    state: str
    created_at: datetime
    updated_at: datetime
    messages: int
    unanswered: int
    first_question: str | None


class ConversationList:
    """Pages of conversations for people reading them (the console)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _bound(self, value: datetime) -> datetime:
        value = _utc(value)
        # SQLite keeps UTC timestamps as text without an offset: compare like with like.
        return value.replace(tzinfo=None) if self._engine.dialect.name == "sqlite" else value

    def page(
        self, where: ConversationFilter, limit: int = 25, offset: int = 0
    ) -> tuple[list[ConversationSummary], int]:
        """A page of the matching conversations, newest first, and how many match."""
        conv, msg = ConversationRow, MessageRow
        of_conv = msg.conversation_id == conv.id
        count = select(func.count()).where(of_conv).correlate(conv).scalar_subquery()
        unanswered = (
            select(func.count())
            .where(of_conv, msg.role == "bot", msg.grounded.is_(False))
            .correlate(conv)
            .scalar_subquery()
        )
        first = (
            select(msg.text)
            .where(of_conv, msg.role == "user")
            .order_by(msg.seq)
            .limit(1)
            .correlate(conv)
            .scalar_subquery()
        )
        conditions: list[Any] = []
        if where.kb_ids is not None:
            conditions.append(conv.kb_id.in_(list(where.kb_ids)))
        if where.start is not None:
            conditions.append(conv.created_at >= self._bound(where.start))
        if where.end is not None:
            conditions.append(conv.created_at < self._bound(where.end))
        if where.answered is True:
            conditions.append(unanswered == 0)
        elif where.answered is False:
            conditions.append(unanswered > 0)
        query = select(
            conv.id,
            conv.kb_id,
            conv.user_id,
            conv.state,
            conv.created_at,
            conv.updated_at,
            count.label("messages"),
            unanswered.label("unanswered"),
            first.label("first_question"),
        ).where(*conditions)
        with self._engine.connect() as connection:
            total = connection.scalar(select(func.count()).select_from(query.subquery()))
            rows = connection.execute(
                query.order_by(conv.created_at.desc(), conv.id.desc()).limit(limit).offset(offset)
            ).all()
        return [_summary(row) for row in rows], int(total or 0)


def _summary(row: Any) -> ConversationSummary:
    return ConversationSummary(
        id=row.id,
        kb_id=row.kb_id,
        user_id=row.user_id,
        state=row.state or "bot",
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
        messages=int(row.messages or 0),
        unanswered=int(row.unanswered or 0),
        first_question=row.first_question,
    )
