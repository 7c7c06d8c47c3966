"""A visitor's data-protection rights: the export returns what was stored about them, and after
erasure no table, no column and no file of the registry or the search indexes holds any of
their strings, while other visitors' data stays; the audit entry names no one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from api.container import Container
from kb.db.base import Base
from kb.settings import Settings
from tests.conftest import make_settings
from tests.support.webhook_receiver import Receiver, serve_receiver

SITE = "https://shop.example.com"
ERASED = "visitor-quokka-7f3a"
KEPT = "visitor-wombat-c41d"
# Everything the erased visitor left, as it would be searched for afterwards.
MARKS = ("quokka", "7f3a", "0612345678", "Quentin")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data", webhook__allowed_hosts=["127.0.0.1"])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def _visit(client: TestClient, kb_id: str, user: str, word: str) -> dict[str, Any]:
    """A conversation of two turns, a rating, a lead, a read event and a profile."""
    first = client.post(
        "/v1/messages/send",
        json={
            "kb_id": kb_id,
            "user_id": user,
            "text": f"How much does the starter plan cost, {word}?",
        },
    ).json()
    conversation_id = first["conversation_id"]
    second = client.post(
        "/v1/messages/send",
        json={
            "kb_id": kb_id,
            "user_id": user,
            "conversation_id": conversation_id,
            "text": f"And how much a year, {word}?",
        },
    ).json()
    rated = client.post(
        f"/v1/messages/{second['message']['id']}/feedback",
        json={"rating": "down", "comment": f"{word} wanted more"},
    ).json()
    lead = client.post(
        f"/v1/conversations/{conversation_id}/lead",
        json={
            "name": f"Quentin {word}" if word == "quokka" else f"Wendy {word}",
            "email": f"{word}@example.org",
            "question": f"Call {word} back",
            "fields": {"phone": "0612345678" if word == "quokka" else "none"},
        },
    ).json()
    client.post(f"/v1/conversations/{conversation_id}/events", json={"type": "read"})
    profile = client.put(
        f"/v1/users/{user}/profile",
        params={"kb_id": kb_id},
        json={"name": f"{word} person", "attributes": {"pet": word}},
    ).json()
    return {"turns": [first, second], "feedback": rated, "lead": lead, "profile": profile}


@pytest.fixture
def visited(client: TestClient, receiver: Receiver) -> tuple[str, dict[str, Any], dict[str, Any]]:
    client.post("/v1/webhooks", json={"url": receiver.url, "events": ["*"]})
    kb_id = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    client.post(
        f"/v1/kbs/{kb_id}/documents",
        json={"title": "Prices", "text": "The starter plan costs 9 EUR a month, 90 EUR a year."},
    )
    erased = _visit(client, kb_id, ERASED, "quokka")
    kept = _visit(client, kb_id, KEPT, "wombat")
    receiver.wait_event("lead.created", count=2)
    return kb_id, erased, kept


def test_the_export_returns_what_was_stored(
    client: TestClient, visited: tuple[str, dict[str, Any], dict[str, Any]]
) -> None:
    kb_id, erased, _ = visited
    response = client.get(f"/v1/users/{ERASED}/export")
    assert response.status_code == 200, response.text
    tables = response.json()["tables"]
    sent = [m for turn in erased["turns"] for m in (turn["user_message"], turn["message"])]
    messages = tables["conversation_messages"]
    assert [(m["id"], m["role"], m["text"]) for m in messages] == [
        (m["id"], m["role"], m["text"]) for m in sent
    ]
    (conversation,) = tables["conversations"]
    assert conversation["id"] == erased["turns"][0]["conversation_id"]
    assert conversation["user_id"] == ERASED and "visitor_token_hash" not in conversation
    (lead,) = tables["leads"]
    assert {k: lead[k] for k in ("id", "name", "email", "question", "fields")} == {
        k: erased["lead"][k] for k in ("id", "name", "email", "question", "fields")
    }
    (feedback,) = tables["message_feedback"]
    assert (feedback["id"], feedback["comment"], feedback["rating"]) == (
        erased["feedback"]["id"],
        "quokka wanted more",
        -1,
    )
    (profile,) = tables["user_profiles"]
    assert profile["name"] == "quokka person" and profile["attributes"] == {"pet": "quokka"}
    assert [e["type"] for e in tables["conversation_events"]] == ["read"]
    assert tables["message_citations"]  # the answers cite the price document
    deliveries = tables["webhook_deliveries"]
    assert {d["event"] for d in deliveries} >= {"lead.created", "message.created"}
    assert all(d["body"]["data"].get("user_id", ERASED) == ERASED for d in deliveries)
    dumped = json.dumps(tables)
    assert "wombat" not in dumped and KEPT not in dumped
    assert client.get(f"/v1/users/{ERASED}/export", params={"kb_id": kb_id}).json()["tables"] == {
        k: v for k, v in tables.items()
    }


def _text_cells(container: Container) -> Iterator[tuple[str, str, str]]:
    """Every text, string or JSON value of every table, as text."""
    engine = container.registry.engine
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                continue
            for row in connection.execute(select(table)).mappings():
                for column, value in row.items():
                    if isinstance(value, str | dict | list):
                        yield table.name, column, json.dumps(value, ensure_ascii=False)


def _files(container: Container) -> Iterator[Path]:
    data_dir = container.settings.storage.data_dir
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.name.endswith(".key") and "models" not in path.parts:
            yield path


def test_erasure_leaves_none_of_the_visitors_strings(
    client: TestClient,
    container: Container,
    visited: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    kb_id, _, kept = visited
    before = {(t, c) for t, c, v in _text_cells(container) if "quokka" in v.lower()}
    assert ("conversation_messages", "text") in before and ("leads", "email") in before
    assert any(b"quokka" in path.read_bytes() for path in _files(container))  # the scan sees
    client.get(f"/v1/kbs/{kb_id}/analytics")  # caches the question vectors, keyed by text
    cached = container.data.analytics._cache._vectors  # what the process holds in memory
    assert [text for _, text in cached if "quokka" in text.lower()]
    erased = client.delete(f"/v1/users/{ERASED}")
    assert erased.status_code == 200, erased.text
    assert not [text for _, text in cached if "quokka" in text.lower()]
    body = erased.json()
    assert body["deleted"]["conversations"] == 1 and body["deleted"]["leads"] == 1
    assert body["deleted"]["webhook_deliveries"] >= 5 and body["user"].startswith("sha256:")
    for table, column, value in _text_cells(container):
        for mark in MARKS:
            assert mark.lower() not in value.lower(), (table, column, mark)
    container.registry.engine.dispose()  # close pooled connections: the log is checkpointed
    for path in _files(container):
        content = path.read_bytes().lower()
        for mark in MARKS:
            assert mark.lower().encode() not in content, (path, mark)
    # The other visitor's data is all there.
    export = client.get(f"/v1/users/{KEPT}/export").json()["tables"]
    assert len(export["conversation_messages"]) == 4 and export["leads"][0]["email"] == (
        "wombat@example.org"
    )
    history = client.get(f"/v1/conversations/{kept['turns'][0]['conversation_id']}/history")
    assert history.json()["total"] == 4
    assert client.get(f"/v1/users/{ERASED}/export").json()["tables"] == {}
    assert client.delete(f"/v1/users/{ERASED}").json()["total"] == 0  # idempotent


def test_the_audit_entry_names_no_one(
    client: TestClient, visited: tuple[str, dict[str, Any], dict[str, Any]]
) -> None:
    client.delete(f"/v1/users/{ERASED}")
    entries = client.get("/v1/audit", params={"action": "user.erase"}).json()["items"]
    (entry,) = entries
    assert entry["target"]["user"].startswith("sha256:") and entry["status"] == 200
    everything = json.dumps(client.get("/v1/audit").json())
    assert ERASED not in everything and "7f3a" not in everything


def test_a_restricted_key_erases_in_its_knowledge_bases_only(
    client: TestClient,
    container: Container,
    visited: tuple[str, dict[str, Any], dict[str, Any]],
) -> None:
    other = client.post("/v1/kbs", json={"name": "other"}).json()["id"]
    client.post("/v1/messages/send", json={"kb_id": other, "user_id": ERASED, "text": "Hi"})
    restricted = {"Authorization": "Bearer " + container.keys.create(["admin"], [other]).secret}
    export = client.get(f"/v1/users/{ERASED}/export", headers=restricted).json()
    assert {c["kb_id"] for c in export["tables"]["conversations"]} == {other}
    refused = client.get(
        f"/v1/users/{ERASED}/export", params={"kb_id": visited[0]}, headers=restricted
    )
    assert refused.status_code == 403
    assert client.delete(f"/v1/users/{ERASED}", headers=restricted).status_code == 200
    left = client.get(f"/v1/users/{ERASED}/export").json()["tables"]
    assert {c["kb_id"] for c in left["conversations"]} == {visited[0]}
    chat = {"Authorization": "Bearer " + container.keys.create(["chat"]).secret}
    assert client.delete(f"/v1/users/{ERASED}", headers=chat).status_code == 403
