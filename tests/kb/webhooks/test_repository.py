"""The event bus and the webhook repository on a real SQLite registry."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from kb.access.secrets import SecretBox
from kb.db.registry import Registry
from kb.errors import DeliveryNotFound, WebhookNotFound
from kb.runtime.events import Event, EventBus
from kb.webhooks.models import Attempt
from kb.webhooks.repository import WebhookRepository
from kb.webhooks.tables import WebhookRow


@pytest.fixture
def repo(tmp_path: Path) -> WebhookRepository:
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    return WebhookRepository(registry.engine, SecretBox([Fernet.generate_key().decode()]))


def test_a_failing_subscriber_neither_fails_the_publisher_nor_the_others() -> None:
    bus = EventBus()
    seen: list[Event] = []

    def broken(_event: Event) -> None:
        raise RuntimeError("receiver store down")

    bus.subscribe(broken)
    bus.subscribe(seen.append)
    event = bus.publish("document.ingested", {"document_id": "doc_1"})
    assert seen == [event]
    envelope = event.envelope()
    assert envelope["id"] == event.id and envelope["type"] == "document.ingested"
    assert envelope["data"] == {"document_id": "doc_1"}
    assert datetime.fromisoformat(envelope["created_at"]).tzinfo is not None


def test_the_secret_is_stored_encrypted_and_read_back(repo: WebhookRepository) -> None:
    hook = repo.create("https://hooks.example.com/", ["lead.created"], "whsec_plain", "crm")
    assert repo.signing_secrets(hook.id) == ["whsec_plain"]
    with repo._sessions() as session:  # the raw column, as a database dump would show it
        stored = session.get(WebhookRow, hook.id)
        assert stored is not None and "whsec_plain" not in stored.secret_encrypted


def test_events_go_to_active_subscriptions_that_want_them(repo: WebhookRepository) -> None:
    leads = repo.create("https://a.example/", ["lead.created"], "s" * 16, "")
    everything = repo.create("https://b.example/", ["*"], "s" * 16, "")
    paused = repo.create("https://c.example/", ["lead.created"], "s" * 16, "")
    repo.update(paused.id, active=False)
    created = repo.enqueue(Event("lead.created", {"lead_id": "lead_1"}))
    assert sorted(d.webhook_id for d in created) == sorted([leads.id, everything.id])
    assert len({d.event_id for d in created}) == 1
    assert [d.webhook_id for d in repo.enqueue(Event("crawl.completed", {}))] == [everything.id]


def test_due_skips_future_busy_and_paused_deliveries(repo: WebhookRepository) -> None:
    hook = repo.create("https://a.example/", ["*"], "s" * 16, "")
    first, second = (repo.add_delivery(hook.id, "ping", f"evt_{n}", "{}") for n in (1, 2))
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert [d.id for d in repo.due(now, 10)] == [first.id, second.id]
    assert [d.id for d in repo.due(now, 10, skip=[first.id])] == [second.id]
    later = datetime.now(UTC) + timedelta(hours=1)
    repo.record(first.id, Attempt("retrying", 500, "HTTP 500", "oops", later))
    assert [d.id for d in repo.due(now, 10)] == [second.id]
    next_due = repo.next_due_at()
    assert next_due is not None and next_due <= now
    repo.update(hook.id, active=False)
    assert repo.due(now, 10) == [] and repo.next_due_at() is None


def test_attempts_are_counted_and_the_log_is_filtered(repo: WebhookRepository) -> None:
    hook = repo.create("https://a.example/", ["*"], "s" * 16, "")
    delivery = repo.add_delivery(hook.id, "ping", "evt_1", '{"id":"evt_1"}')
    repo.record(delivery.id, Attempt("retrying", 503, "HTTP 503", "x" * 5000, datetime.now(UTC)))
    done = repo.record(delivery.id, Attempt("succeeded", 204))
    assert done is not None and done.attempts == 2 and done.status == "succeeded"
    assert done.delivered_at is not None and done.last_error is None
    assert repo.deliveries(hook.id, status="succeeded")[1] == 1
    assert repo.deliveries(hook.id, status="failed") == ([], 0)
    retried = repo.record(
        repo.add_delivery(hook.id, "ping", "evt_2", "{}").id,
        Attempt("retrying", 503, "HTTP 503", "x" * 5000, datetime.now(UTC)),
    )
    assert retried is not None and len(retried.last_response or "") == 200


def test_deleting_a_subscription_removes_its_log(repo: WebhookRepository) -> None:
    hook = repo.create("https://a.example/", ["*"], "s" * 16, "")
    delivery = repo.add_delivery(hook.id, "ping", "evt_1", "{}")
    repo.delete(hook.id)
    with pytest.raises(WebhookNotFound):
        repo.get(hook.id)
    with pytest.raises(DeliveryNotFound):
        repo.get_delivery(hook.id, delivery.id)
    assert repo.record(delivery.id, Attempt("succeeded", 200)) is None
    with pytest.raises(WebhookNotFound):
        repo.deliveries(hook.id)


def test_events_about_a_deleted_kb_are_not_stored(tmp_path: Path) -> None:
    """An event published while its knowledge base was being deleted (a crawl ending, a lead)
    was stored, and so sent, after the deletion."""
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    repo = WebhookRepository(registry.engine, SecretBox([Fernet.generate_key().decode()]))
    hook = repo.create("https://a.example/", ["*"], "s" * 16, "")
    kb = registry.create_kb("shop")
    stored = repo.enqueue(Event("lead.created", {"kb_id": kb.id, "email": "ada@example.com"}))
    registry.delete_kb(kb.id)
    assert repo.deliveries(hook.id) == ([], 0)  # erased with the knowledge base
    assert repo.enqueue(Event("lead.created", {"kb_id": kb.id, "email": "ada@example.com"})) == []
    assert len(stored) == 1 and repo.deliveries(hook.id)[1] == 0


def test_a_delivery_log_from_before_kb_ids_gets_them_from_its_bodies(tmp_path: Path) -> None:
    """Deliveries stored before they named their knowledge base could not be erased with it."""
    path = tmp_path / "kb.sqlite3"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE webhook_deliveries (id VARCHAR(64) PRIMARY KEY, webhook_id VARCHAR(64),"
        " event VARCHAR(64), event_id VARCHAR(64), body TEXT, status VARCHAR(16),"
        " attempts INTEGER, last_status_code INTEGER, last_error TEXT, last_response TEXT,"
        " next_attempt_at DATETIME, created_at DATETIME, delivered_at DATETIME);"
        "INSERT INTO webhook_deliveries (id, webhook_id, event, event_id, body, status, attempts)"
        " VALUES ('dlv_1', 'wh_1', 'lead.created', 'evt_1',"
        ' \'{"id":"evt_1","data":{"kb_id":"kb_old","email":"a@b.example"}}\','
        " 'succeeded', 1),"
        " ('dlv_2', 'wh_1', 'ping', 'evt_2', '{\"data\":{\"webhook_id\":\"wh_1\"}}', 'pending', 0);"
    )
    old.close()
    registry = Registry(f"sqlite:///{path}")
    WebhookRepository(registry.engine, SecretBox([Fernet.generate_key().decode()]))
    with registry.engine.connect() as db:
        rows = db.exec_driver_sql("SELECT id, kb_id FROM webhook_deliveries ORDER BY id").all()
    assert [tuple(r) for r in rows] == [("dlv_1", "kb_old"), ("dlv_2", None)]
    assert registry.erase_rows_of_deleted_kbs() == {"webhook_deliveries": 1}
