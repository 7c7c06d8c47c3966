"""A generated conversation history with known values (conversations, messages, feedback,
leads, documents), bulk-inserted into a registry database: for the analytics tests, which
compute the expected figures from it in plain Python, and for the analytics benchmark."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from kb.db.base import DocumentRow
from kb.db.conversations import CitationRow, ConversationRow, MessageRow
from kb.db.feedback import FeedbackRow
from kb.db.leads import LeadRow

# Questions of one meaning each: the analytics report should group each line into one topic.
TOPICS = (
    (
        "How much does the starter plan cost?",
        "What is the price of the starter plan?",
        "How expensive is the starter plan?",
    ),
    (
        "How do I reset my password?",
        "I forgot my password, how can I change it?",
        "how do i reset my password",
    ),
    ("Do you ship to Canada?", "do you ship to canada?"),
    ("Can I cancel my subscription at any time?", "can I cancel my subscription at any time"),
    ("Where is my order?", "where is my order"),
    ("Quels sont vos horaires d'ouverture ?", "quels sont vos horaires d'ouverture"),
)


@dataclass
class History:
    """Rows to insert, as dicts keyed by column name (what the tests compute from)."""

    kb_id: str
    documents: list[dict[str, Any]] = field(default_factory=list)
    conversations: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    leads: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)  # message_citations rows


def generate(
    kb_id: str,
    start: datetime,
    days: int,
    conversations: int,
    turns: int = 3,
    visitors: int = 50,
    documents: int = 8,
    long_tail: float = 0.2,
    seed: int = 7,
) -> History:
    """A history of ``conversations`` of ``turns`` question-answer pairs each, spread over
    ``days`` days from ``start``; a share ``long_tail`` of the questions are one of a kind."""
    rng = random.Random(seed)
    history = History(kb_id)
    docs = [f"doc_{kb_id}_{n}" for n in range(documents)]
    for n, doc_id in enumerate(docs):
        history.documents.append(_document(kb_id, doc_id, f"Document {n}", start))
    cited = docs[: max(1, documents - 2)]  # the last two are never cited
    for c in range(conversations):
        conv_id = f"conv_{kb_id}_{c}"
        at = start + timedelta(seconds=rng.uniform(0, days * 86400 - 3600))
        user = f"visitor-{rng.randrange(visitors)}"
        handoff = at + timedelta(minutes=5) if rng.random() < 0.1 else None
        history.conversations.append(_conversation(kb_id, conv_id, user, at, handoff))
        for t in range(turns):
            asked = at + timedelta(seconds=20 * t)
            if rng.random() < long_tail:
                text = f"Question number {c}-{t} about item {rng.randrange(10**9)}"
            else:
                text = rng.choice(rng.choice(TOPICS))
            user_msg = _message(kb_id, f"m_{conv_id}_{t}u", conv_id, "user", text, asked)
            history.messages.append(user_msg)
            grounded = rng.random() < 0.7
            refs = rng.sample(cited, k=rng.randint(1, 2)) if grounded else []
            bot = _message(kb_id, f"m_{conv_id}_{t}b", conv_id, "bot", f"Answer {c}-{t}", asked)
            bot["created_at"] = answered = asked + timedelta(seconds=2)
            bot.update(
                grounded=grounded,
                citations=[{"number": i + 1, "document_id": d} for i, d in enumerate(refs)],
                latency_ms=rng.randint(50, 3000),
                model="extractive",
            )
            history.messages.append(bot)
            history.citations.extend(
                {"message_id": bot["id"], "kb_id": kb_id, "document_id": d, "created_at": answered}
                for d in refs
            )
            if rng.random() < 0.15:
                history.feedback.append(_feedback(kb_id, bot, user, rng.choice((1, 1, -1))))
        if rng.random() < 0.05:
            history.leads.append(_lead(kb_id, conv_id, user, at + timedelta(minutes=1)))
    return history


def store(engine: Engine, history: History, batch: int = 10_000) -> None:
    """Insert the history in bulk (the knowledge base must exist)."""
    with engine.begin() as connection:
        for table, rows in (
            (DocumentRow, history.documents),
            (ConversationRow, history.conversations),
            (MessageRow, history.messages),
            (CitationRow, history.citations),
            (FeedbackRow, history.feedback),
            (LeadRow, history.leads),
        ):
            for offset in range(0, len(rows), batch):
                connection.execute(insert(table), rows[offset : offset + batch])


def _document(kb_id: str, doc_id: str, title: str, at: datetime) -> dict[str, Any]:
    return {
        "id": doc_id,
        "kb_id": kb_id,
        "title": title,
        "source": f"{doc_id}.txt",
        "media_type": "text/plain",
        "content_hash": doc_id,
        "size_bytes": 1,
        "chunk_count": 1,
        "status": "ready",
        "metadata": {},
        "created_at": at,
        "updated_at": at,
    }


def _conversation(
    kb_id: str, conv_id: str, user: str, at: datetime, handoff: datetime | None
) -> dict[str, Any]:
    return {
        "id": conv_id,
        "kb_id": kb_id,
        "user_id": user,
        "variables": {},
        "created_at": at,
        "updated_at": at,
        "stored_bytes": 0,
        "state": "waiting_for_agent" if handoff else "bot",
        "handoff_at": handoff,
        "handoff_reason": "visitor" if handoff else None,
    }


def _message(
    kb_id: str, msg_id: str, conv_id: str, role: str, text: str, at: datetime
) -> dict[str, Any]:
    return {
        "id": msg_id,
        "kb_id": kb_id,
        "conversation_id": conv_id,
        "role": role,
        "text": text,
        "standalone_question": text if role == "user" else None,
        "citations": [],
        "grounded": None,
        "latency_ms": None,
        "model": None,
        "created_at": at,
    }


def _feedback(kb_id: str, bot: dict[str, Any], user: str, rating: int) -> dict[str, Any]:
    return {
        "id": f"fb_{bot['id']}",
        "message_id": bot["id"],
        "conversation_id": bot["conversation_id"],
        "kb_id": kb_id,
        "user_id": user,
        "rating": rating,
        "comment": None,
        "created_at": bot["created_at"] + timedelta(seconds=30),
    }


def _lead(kb_id: str, conv_id: str, user: str, at: datetime) -> dict[str, Any]:
    return {
        "id": f"lead_{conv_id}",
        "conversation_id": conv_id,
        "kb_id": kb_id,
        "user_id": user,
        "name": "Ada",
        "email": f"{user}@example.com",
        "question": "",
        "fields": {},
        "created_at": at,
    }


def utc(year: int, month: int, day: int) -> datetime:
    """Midnight UTC of that day."""
    return datetime(year, month, day, tzinfo=UTC)
