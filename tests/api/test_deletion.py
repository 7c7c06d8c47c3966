"""Deleting a knowledge base deletes what it held: afterwards no file of the data directory and no
row of any table holds its documents, conversations, leads or the webhook bodies about them, and
its deliveries cannot be sent again; another knowledge base is left whole."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.webhook_receiver import Receiver, serve_receiver


def _marker(kind: str) -> str:
    # Lower case, ending in a digit: the BM25 index lower-cases and stems words, and a stemmer
    # leaves a word ending in a digit as it is, so the index stores the marker verbatim.
    return f"zz{kind}{secrets.token_hex(6)}7"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


@pytest.fixture
def app_container(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[Container]:
    settings = make_settings(
        tmp_path / "data", webhook__allowed_hosts=["127.0.0.1"], webhook__base_delay_s=0.05
    )
    built = build_container(settings, embedder=embedder)
    yield built
    built.close()


@pytest.fixture
def api(app_container: Container) -> Iterator[TestClient]:
    app = create_app(app_container)
    with TestClient(
        app, raise_server_exceptions=False, headers=admin_headers(app_container)
    ) as client:
        yield client


def _files_holding(root: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    """The files under ``root`` whose bytes hold a needle (case-insensitive), free pages and
    write-ahead logs included."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes().lower()
            hits = [n for n in needles if n.encode() in data]
            if hits:
                found[str(path.relative_to(root))] = hits
    return found


def _rows_holding(root: Path, needles: Iterable[str]) -> dict[str, list[str]]:
    """The tables of every SQLite database under ``root`` with a row holding a needle."""
    found: dict[str, list[str]] = {}
    for database in sorted(root.rglob("*.sqlite3")):
        db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
        try:
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            for (table,) in tables:
                text = repr(db.execute(f'SELECT * FROM "{table}"').fetchall()).lower()
                hits = [n for n in needles if n in text]
                if hits:
                    found[f"{database.name}:{table}"] = hits
        finally:
            db.close()
    return found


def _all_hits(found: dict[str, list[str]]) -> set[str]:
    return {needle for hits in found.values() for needle in hits}


def _segment_folders(chroma: Path, collection: str) -> set[str]:
    db = sqlite3.connect(f"file:{chroma / 'chroma.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute(
            "SELECT s.id FROM segments s JOIN collections c ON s.collection = c.id"
            " WHERE c.name = ?",
            (collection,),
        ).fetchall()
    finally:
        db.close()
    return {row[0] for row in rows if (chroma / row[0]).is_dir()}


def _fill(api: TestClient, name: str, marks: dict[str, str]) -> dict[str, Any]:
    """A knowledge base with a document, a conversation and a lead, each carrying ``marks``."""
    kb = api.post("/v1/kbs", json={"name": name, "description": marks["description"]}).json()
    text = (
        f"# Opening hours\n\nThe {marks['word']} office opens at nine and closes at five. "
        f"Ask the front desk about the {marks['word']} badge."
    )
    ingested = api.post(
        f"/v1/kbs/{kb['id']}/documents",
        json={"text": text, "title": marks["title"], "source": marks["source"]},
    )
    assert ingested.status_code == 201, ingested.text
    reply = api.post(
        "/v1/messages/send",
        json={
            "kb_id": kb["id"],
            "user_id": marks["user"],
            "text": f"When does the {marks['word']} office open? {marks['message']}",
        },
    )
    assert reply.status_code == 200, reply.text
    lead = api.post(
        f"/v1/conversations/{reply.json()['conversation_id']}/lead",
        json={
            "name": marks["name"],
            "email": f"{marks['email']}@example.com",
            "question": f"Can I visit on Sunday? {marks['question']}",
        },
    )
    assert lead.status_code == 201, lead.text
    return dict(kb)


KINDS = ("description", "word", "title", "source", "user", "message", "name", "email", "question")


def test_a_deleted_kb_leaves_nothing_in_any_file_or_table(
    api: TestClient, app_container: Container, receiver: Receiver
) -> None:
    """A deleted knowledge base's lead.created bodies stayed in webhook_deliveries (and could be
    redelivered), its Chroma segment folder stayed on disk, and its deleted rows stayed readable
    in the free pages of the SQLite files."""
    data_dir = app_container.settings.storage.data_dir
    chroma = data_dir / "chroma"
    hook = api.post("/v1/webhooks", json={"url": receiver.url, "events": ["*"]}).json()
    gone = {kind: _marker(kind) for kind in KINDS}
    kept = {kind: _marker(kind) for kind in KINDS}
    doomed = _fill(api, "doomed", gone)
    keeper = _fill(api, "keeper", kept)
    receiver.wait_event("lead.created", count=2)
    # The events about the doomed knowledge base, as its subscriber received them.
    about = {r.json()["id"]: r.json()["type"] for r in receiver.received()
             if r.json()["data"].get("kb_id") == doomed["id"]}  # fmt: skip
    deliveries = api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 100}).json()
    lead_delivery = next(
        d for d in deliveries["items"] if about.get(d["event_id"]) == "lead.created"
    )
    doomed_folders = _segment_folders(chroma, doomed["id"])
    keeper_folders = _segment_folders(chroma, keeper["id"])
    assert doomed_folders and keeper_folders
    # What the scans below look for is there before the deletion: they can find it.
    assert _all_hits(_files_holding(data_dir, gone.values())) == set(gone.values())
    assert _all_hits(_rows_holding(data_dir, gone.values())) == set(gone.values())

    assert api.delete(f"/v1/kbs/{doomed['id']}").status_code == 204

    redelivered = api.post(f"/v1/webhooks/{hook['id']}/deliveries/{lead_delivery['id']}/redeliver")
    assert redelivered.status_code == 404, redelivered.text
    assert redelivered.json()["code"] == "delivery_not_found"
    assert _files_holding(data_dir, gone.values()) == {}
    assert _rows_holding(data_dir, gone.values()) == {}
    assert not any((chroma / folder).exists() for folder in doomed_folders)
    # The audit trail keeps the action, without anything the knowledge base held.
    actions = api.get("/v1/audit", params={"action": "kb.delete"}).json()["items"]
    assert [entry["target"] for entry in actions] == [{"kb_id": doomed["id"]}]

    # The other knowledge base is whole: its files, its folder, its rows, its answers.
    assert _all_hits(_files_holding(data_dir, kept.values())) == set(kept.values())
    assert all((chroma / folder).is_dir() for folder in keeper_folders)
    found = api.post(f"/v1/kbs/{keeper['id']}/search", json={"query": kept["word"]}).json()
    assert found["results"] and kept["word"] in found["results"][0]["text"]
    remaining = api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 100}).json()
    assert remaining["items"] and not {d["event_id"] for d in remaining["items"]} & set(about)
