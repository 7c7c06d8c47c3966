"""Reading the conversations of a period with their messages, a batch at a time, for exports
(the conversations started in ``[start, end)``, oldest first)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Engine

from kb.db.analytics import Period
from kb.db.conversations import ConversationRow, MessageRow, cited_documents
from kb.db.feedback import FeedbackRow

BATCH = 200


@dataclass(frozen=True)
class Transcript:
    """One conversation and its messages (each with its feedback, if any), as plain values."""

    conversation: dict[str, Any]
    messages: list[dict[str, Any]]


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def transcripts(
    engine: Engine, kb_id: str, period: Period, batch: int = BATCH
) -> Iterator[Transcript]:
    """The knowledge base's conversations started in ``period``, with their messages."""
    start, end = period.start, period.end
    if engine.dialect.name == "sqlite":  # stored UTC timestamps compare as text
        start, end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    conv = ConversationRow
    after: tuple[datetime, str] | None = None
    while True:
        query = select(conv).where(conv.kb_id == kb_id, conv.created_at >= start)
        query = query.where(conv.created_at < end)
        if after is not None:  # keyset pagination: no OFFSET rescans
            query = query.where(tuple_(conv.created_at, conv.id) > tuple_(*after))
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(conv.created_at, conv.id).limit(batch)).all()
            if not rows:
                return
            ids = [row.id for row in rows]
            messages = connection.execute(
                select(MessageRow)
                .where(MessageRow.conversation_id.in_(ids))
                .order_by(MessageRow.seq)
            ).all()
            feedback = {
                f.message_id: f
                for f in connection.execute(
                    select(FeedbackRow).where(FeedbackRow.conversation_id.in_(ids))
                )
            }
        grouped: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        for message in messages:
            grouped[message.conversation_id].append(_message(message, feedback.get(message.id)))
        for row in rows:
            yield Transcript(_conversation(row), grouped[row.id])
        after = (rows[-1].created_at, rows[-1].id)


def _conversation(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "kb_id": row.kb_id,
        "user_id": row.user_id,
        "created_at": _utc(row.created_at),
        "updated_at": _utc(row.updated_at),
        "state": getattr(row, "state", None),
        "handoff_at": _utc(getattr(row, "handoff_at", None)),
        "handoff_reason": getattr(row, "handoff_reason", None),
        "variables": dict(row.variables or {}),
    }


def _message(row: Any, feedback: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "role": row.role,
        "text": row.text,
        "created_at": _utc(row.created_at),
        "standalone_question": row.standalone_question,
        "action": row.action,
        "grounded": row.grounded,
        "model": row.model,
        "latency_ms": row.latency_ms,
        "cited_documents": cited_documents(row.citations),
        "feedback": None
        if feedback is None
        else {
            "rating": "up" if feedback.rating > 0 else "down",
            "comment": feedback.comment,
            "created_at": _utc(feedback.created_at),
        },
    }
