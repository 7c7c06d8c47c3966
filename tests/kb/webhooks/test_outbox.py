"""The outbox on a real SQLite registry: events become one delivery per wanting subscription,
exactly once however often they are drained, and a due delivery is sent by one process only."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from kb.access.secrets import SecretBox
from kb.db.registry import Registry
from kb.runtime.events import Event, EventBus
from kb.webhooks.outbox import DeliveryClaims, Outbox
from kb.webhooks.repository import WebhookRepository


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")


@pytest.fixture
def repo(registry: Registry) -> WebhookRepository:
    return WebhookRepository(registry.engine, SecretBox([Fernet.generate_key().decode()]))


def test_drained_events_become_one_delivery_per_wanting_subscription(
    registry: Registry, repo: WebhookRepository
) -> None:
    kb = registry.create_kb("docs")
    leads = repo.create("https://a.example.com/", ["lead.created"], "s1", "crm")
    every = repo.create("https://b.example.com/", ["*"], "s2", "all")
    outbox = Outbox(registry.engine)
    bus = EventBus()
    bus.subscribe(outbox.write)
    lead = bus.publish("lead.created", {"kb_id": kb.id, "lead_id": "lead_1"})
    doc = bus.publish("document.ingested", {"kb_id": kb.id, "document_id": "doc_1"})
    assert repo.deliveries(every.id)[1] == 0  # nothing sent before a drain
    assert outbox.drain() == 2 and outbox.drain() == 0
    assert [d.event_id for d in repo.deliveries(leads.id)[0]] == [lead.id]
    assert sorted(d.event_id for d in repo.deliveries(every.id)[0]) == sorted([lead.id, doc.id])


def test_an_event_drained_again_after_a_crash_is_not_delivered_twice(
    registry: Registry, repo: WebhookRepository
) -> None:
    """A drain is one transaction; an event drained again (written twice, or left by a drain
    whose commit was lost) finds its deliveries and adds none."""
    kb = registry.create_kb("docs")
    hook = repo.create("https://a.example.com/", ["*"], "s1", "all")
    outbox = Outbox(registry.engine)
    event = Event("document.ingested", {"kb_id": kb.id, "document_id": "doc_1"})
    outbox.write(event)
    assert outbox.drain() == 1 and outbox.pending() == 0
    outbox.write(event)
    assert outbox.drain() == 1
    assert repo.deliveries(hook.id)[1] == 1


def test_an_event_of_a_deleted_knowledge_base_gets_no_delivery(
    registry: Registry, repo: WebhookRepository
) -> None:
    hook = repo.create("https://a.example.com/", ["*"], "s1", "all")
    outbox = Outbox(registry.engine)
    bus = EventBus()
    bus.subscribe(outbox.write)
    # Deleted while the event was under way: the row names a knowledge base no longer there.
    bus.publish("document.ingested", {"kb_id": "kb_deleted", "document_id": "doc_1"})
    assert outbox.drain() == 1 and repo.deliveries(hook.id)[1] == 0


def test_a_due_delivery_is_claimed_by_one_process(
    registry: Registry, repo: WebhookRepository
) -> None:
    hook = repo.create("https://a.example.com/", ["*"], "s1", "all")
    delivery = repo.add_delivery(hook.id, "ping", "evt_1", "{}")
    first, second = DeliveryClaims(registry.engine, 30), DeliveryClaims(registry.engine, 30)
    assert first(delivery) is True
    assert second(delivery) is False
    assert repo.due(repo.get_delivery(hook.id, delivery.id).created_at, 10) == []


def test_a_claim_whose_sender_died_lapses_and_the_same_delivery_is_sent_again(
    registry: Registry, repo: WebhookRepository
) -> None:
    """The resend keeps the delivery's id, so the receiver's de-duplication drops it."""
    hook = repo.create("https://a.example.com/", ["*"], "s1", "all")
    delivery = repo.add_delivery(hook.id, "ping", "evt_1", "{}")
    assert DeliveryClaims(registry.engine, 0.05)(delivery)  # then its process is killed
    time.sleep(0.1)
    [due] = repo.due(datetime.now(UTC), 10)
    assert due.id == delivery.id and DeliveryClaims(registry.engine, 30)(due)
