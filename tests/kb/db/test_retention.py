"""Retention deletes the conversations idle for N days, with what hangs off them, and nothing
else; a second run deletes nothing; 0 days keeps everything."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from kb.db.conversations import (
    CitationRow,
    ConversationEventRow,
    ConversationRepository,
    ConversationRow,
    MessageRow,
)
from kb.db.feedback import FeedbackRepository, FeedbackRow
from kb.db.leads import LeadIn, LeadRepository, LeadRow
from kb.db.registry import Registry
from kb.db.retention import RetentionJob, delete_expired_conversations
from kb.runtime.events import EventBus
from tests.support.history import utc

NOW = utc(2026, 6, 1)


@pytest.fixture
def registry(database_url: str) -> Iterator[Registry]:
    found = Registry(database_url)
    yield found
    found.close()


def _conversation(
    repo: ConversationRepository, feedback: FeedbackRepository, leads: LeadRepository, kb: str
) -> str:
    conversation = repo.create(kb, "visitor-1")
    repo.add_message(conversation.id, "user", "Prices?")
    bot = repo.add_message(
        conversation.id, "bot", "9 EUR.", citations=[{"document_id": "doc_1"}], grounded=True
    )
    repo.add_event(conversation.id, "read")
    feedback.record(bot.id, "up")
    leads.record(conversation, LeadIn("Ada", "ada@example.com"))
    return conversation.id


def _count(registry: Registry, table: Any, conversation_id: str) -> int:
    where: Any
    if table is CitationRow:
        of_conversation = MessageRow.conversation_id == conversation_id
        where = CitationRow.message_id.in_(select(MessageRow.id).where(of_conversation))
    elif table is ConversationRow:
        where = ConversationRow.id == conversation_id
    else:
        where = table.conversation_id == conversation_id
    with registry.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(table).where(where)) or 0


def test_only_idle_conversations_are_deleted(registry: Registry) -> None:
    engine = registry.engine
    repo = ConversationRepository(engine)
    feedback = FeedbackRepository(engine, EventBus())
    leads = LeadRepository(engine, EventBus())
    kb = registry.create_kb("shop").id
    old, recent = (_conversation(repo, feedback, leads, kb) for _ in range(2))
    with engine.begin() as connection:  # `old` last spoke 31 days ago, `recent` 29 days ago
        for conversation_id, age in ((old, 31), (recent, 29)):
            connection.execute(
                update(ConversationRow)
                .where(ConversationRow.id == conversation_id)
                .values(updated_at=NOW - timedelta(days=age), created_at=NOW - timedelta(days=90))
            )
    deleted = delete_expired_conversations(engine, 30, now=NOW)
    assert deleted == {
        "message_feedback": 1,
        "message_citations": 1,
        "conversation_events": 1,
        "conversation_messages": 2,
        "conversations": 1,
    }
    tables = (ConversationRow, MessageRow, ConversationEventRow, FeedbackRow, CitationRow)
    for table in tables:
        assert _count(registry, table, old) == 0, table
        assert _count(registry, table, recent) == 1 + (table is MessageRow), table
    assert _count(registry, LeadRow, old) == 1  # leads are the sales team's: kept
    assert delete_expired_conversations(engine, 30, now=NOW) == {}  # idempotent
    assert delete_expired_conversations(engine, 0, now=NOW + timedelta(days=999)) == {}


def test_the_job_runs_in_batches_until_nothing_is_left(registry: Registry) -> None:
    engine = registry.engine
    repo = ConversationRepository(engine)
    kb = registry.create_kb("shop").id
    for n in range(7):
        repo.add_message(repo.create(kb, f"visitor-{n}").id, "user", "Hello")
    with engine.begin() as connection:
        connection.execute(update(ConversationRow).values(updated_at=utc(2020, 1, 1)))
    assert delete_expired_conversations(engine, 1, batch=3)["conversations"] == 7
    job = RetentionJob(engine, days=1, interval_s=3600)
    assert job.run_once() == {}
    job.start()
    job.stop()
    RetentionJob(engine, days=0, interval_s=1).start()  # off: starts no thread
