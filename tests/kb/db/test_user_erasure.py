"""One user's rows, found from the schema alone, on SQLite and PostgreSQL: exported as stored,
erased everywhere (stored webhook bodies too), other users' rows untouched, idempotent."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, inspect, select

from kb.db.base import Base
from kb.db.conversations import ConversationRepository
from kb.db.erasure import erase_user_rows, export_user_rows
from kb.db.feedback import FeedbackRepository
from kb.db.leads import LeadIn, LeadRepository
from kb.db.profiles import ProfileRepository, UserProfile
from kb.db.registry import Registry
from kb.runtime.events import Event, EventBus
from kb.webhooks.models import event_body
from kb.webhooks.tables import DeliveryRow, WebhookRow


@pytest.fixture
def registry(database_url: str) -> Iterator[Registry]:
    found = Registry(database_url)
    yield found
    found.close()


def _user(registry: Registry, kb_id: str, user: str, word: str, bus: EventBus) -> str:
    engine = registry.engine
    repo = ConversationRepository(engine)
    conversation = repo.create(kb_id, user)
    repo.add_message(conversation.id, "user", f"Where is {word}'s order?")
    bot = repo.add_message(
        conversation.id, "bot", "On its way.", citations=[{"document_id": "doc_1"}], grounded=True
    )
    repo.add_event(conversation.id, "typing")
    FeedbackRepository(engine, bus).record(bot.id, "up", f"{word} is happy")
    LeadRepository(engine, bus).record(conversation, LeadIn(word, f"{word}@example.org"))
    ProfileRepository(engine).put(UserProfile(kb_id, user, name=f"{word} person"))
    return conversation.id


def _cells(registry: Registry) -> Iterator[str]:
    present = set(inspect(registry.engine).get_table_names())
    with registry.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name in present:
                for row in connection.execute(select(table)).mappings():
                    yield json.dumps({k: str(v) for k, v in row.items()})


def test_a_users_rows_are_exported_then_erased(registry: Registry) -> None:
    engine = registry.engine
    kb_id = registry.create_kb("shop").id
    Base.metadata.create_all(engine, tables=[WebhookRow.__table__, DeliveryRow.__table__])  # type: ignore[list-item]
    bodies: list[Event] = []
    bus = EventBus()
    bus.subscribe(bodies.append)
    gone = _user(registry, kb_id, "user-gone-91", "koala", bus)
    kept = _user(registry, kb_id, "user-kept-17", "emu", bus)
    with engine.begin() as connection:
        connection.execute(
            insert(WebhookRow),
            {
                "id": "wh_1",
                "url": "https://h.example/",
                "events": ["*"],
                "secret_encrypted": "x",
                "description": "",
            },
        )
        connection.execute(
            insert(DeliveryRow),
            [
                {
                    "id": f"dlv_{n}",
                    "webhook_id": "wh_1",
                    "event": e.type,
                    "event_id": e.id,
                    "kb_id": kb_id,
                    "body": event_body(e),
                    "status": "succeeded",
                }
                for n, e in enumerate(bodies)
            ],
        )
    with engine.connect() as connection:
        exported = export_user_rows(connection, "user-gone-91")
    assert [c["id"] for c in exported["conversations"]] == [gone]
    texts = [m["text"] for m in exported["conversation_messages"]]
    assert texts == ["Where is koala's order?", "On its way."]
    assert exported["message_feedback"][0]["comment"] == "koala is happy"
    assert exported["leads"][0]["email"] == "koala@example.org"
    assert exported["user_profiles"][0]["name"] == "koala person"
    assert len(exported["message_citations"]) == 1 and len(exported["conversation_events"]) == 1
    deliveries = exported["webhook_deliveries"]
    assert {d["body"]["data"]["user_id"] for d in deliveries} == {"user-gone-91"}
    assert len(deliveries) == 2  # lead.created, message.feedback
    assert "emu" not in json.dumps(exported)
    with engine.begin() as connection:
        erased = erase_user_rows(connection, "user-gone-91")
    assert erased["conversations"] == 1 and erased["webhook_deliveries"] == 2
    for cell in _cells(registry):
        for mark in ("koala", "gone-91", gone):
            assert mark not in cell, cell
    with engine.connect() as connection:
        left = export_user_rows(connection, "user-kept-17")
        assert export_user_rows(connection, "user-gone-91") == {}
    assert [c["id"] for c in left["conversations"]] == [kept]
    assert len(left["conversation_messages"]) == 2 and len(left["webhook_deliveries"]) == 2
    with engine.begin() as connection:
        assert erase_user_rows(connection, "user-gone-91") == {}
