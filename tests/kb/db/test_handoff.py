"""Handoff state in the registry: a database from before the columns gains them (old
conversations are the bot's), transitions are conditional, messages come after a cursor."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from kb.db.conversations import ConversationRepository
from kb.db.handoff import HandoffRepository
from kb.db.registry import Registry
from kb.errors import Conflict, ConversationNotFound

OLD_TABLES = """
CREATE TABLE conversations (id VARCHAR(64) PRIMARY KEY, kb_id VARCHAR(64), user_id VARCHAR(200),
  variables JSON, created_at DATETIME, updated_at DATETIME, read_at DATETIME, typing_at DATETIME);
CREATE TABLE conversation_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id VARCHAR(64) UNIQUE,
  conversation_id VARCHAR(64), role VARCHAR(10), text TEXT, action JSON, standalone_question TEXT,
  citations JSON, grounded BOOLEAN, model VARCHAR(200), created_at DATETIME);
"""


def test_an_older_database_gains_the_state_columns_and_its_conversations_are_the_bots(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kb.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_TABLES)
    registry = Registry(f"sqlite:///{path}")
    kb = registry.create_kb("shop")
    with registry.engine.begin() as db:
        db.exec_driver_sql(
            "INSERT INTO conversations (id, kb_id, user_id, variables, created_at, updated_at)"
            f" VALUES ('conv_old', '{kb.id}', 'u', '{{}}', '2025-01-01', '2025-01-01')"
        )
    conversations = ConversationRepository(registry.engine)
    old = conversations.get("conv_old")
    assert old.state == "bot" and old.handoff_at is None and old.handoff_reason is None
    handoff = HandoffRepository(registry.engine)
    waiting = handoff.transition("conv_old", "waiting_for_agent", ("bot",), "unanswered")
    assert waiting.state == "waiting_for_agent" and waiting.handoff_reason == "unanswered"
    assert waiting.handoff_at is not None
    reply = conversations.add_message("conv_old", "agent", "Hello", agent_name="Marie")
    assert conversations.get("conv_old").state == "waiting_for_agent"
    assert [(m.role, m.agent_name) for m in handoff.messages_after("conv_old", 0, 10)] == [
        ("agent", "Marie")
    ]
    assert handoff.messages_after("conv_old", reply.seq, 10) == []
    assert handoff.last_seq("conv_old") == reply.seq


def test_a_transition_from_the_wrong_state_is_a_conflict_and_changes_nothing(
    tmp_path: Path,
) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    kb = registry.create_kb("shop")
    conversations = ConversationRepository(registry.engine)
    handoff = HandoffRepository(registry.engine)
    conversation = conversations.create(kb.id, "u")
    handoff.transition(conversation.id, "closed", ("bot",))
    with pytest.raises(Conflict) as refused:
        handoff.transition(conversation.id, "waiting_for_agent", ("bot",), "api")
    assert refused.value.extra["state"] == "closed"
    after = conversations.get(conversation.id)
    assert after.state == "closed" and after.handoff_at is None
    with pytest.raises(ConversationNotFound):
        handoff.transition("conv_missing", "bot", ("agent",))
