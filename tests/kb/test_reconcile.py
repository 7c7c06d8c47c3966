"""Reconciling the indexes with the registry on real Chroma and SQLite: what an interrupted
ingestion or deletion left is removed and reported, live chunks are kept, a second run is clean."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from kb.access.secrets import SecretBox
from kb.db.registry import Registry
from kb.index.lexical import SqliteLexicalIndex
from kb.index.vectors import ChromaStore
from kb.models import Chunk, Document, chunk_id
from kb.reconcile import Reconciler, Repair
from kb.runtime.events import Event
from kb.webhooks.repository import WebhookRepository

LIVE, OLD = "a" * 16, "b" * 16


@dataclass
class Stores:
    registry: Registry
    lexical: SqliteLexicalIndex
    store: ChromaStore
    chroma: Path

    def reconciler(self) -> Reconciler:
        return Reconciler(self.registry, {"vectors": self.store, "lexical": self.lexical})

    def add(self, kb_id: str, doc: str, version: str, count: int) -> None:
        chunks = [
            Chunk(
                id=chunk_id(doc, version, i), kb_id=kb_id, document_id=doc, version=version,
                index=i, text=f"passage {i} of {doc} {version}", title="T", source=f"{doc}.md",
                media_type="text/markdown", start_char=0, end_char=10,
            )
            for i in range(count)
        ]  # fmt: skip
        self.store.add(kb_id, chunks, [[1.0, float(i), 0.5] for i in range(count)])
        self.lexical.add(kb_id, chunks)

    def held(self, kb_id: str) -> dict[str, dict[tuple[str, str], int]]:
        return {"vectors": self.store.versions(kb_id), "lexical": self.lexical.versions(kb_id)}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    lexical = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    store = ChromaStore(tmp_path / "chroma", texts=lexical)
    yield Stores(registry, lexical, store, tmp_path / "chroma")
    store.close()
    lexical.close()
    registry.close()


def _live_document(registry: Registry, kb_id: str, doc_id: str, chunks: int) -> None:
    now = datetime.now(UTC)
    registry.save_document(
        Document(
            id=doc_id, kb_id=kb_id, title="T", source=f"{doc_id}.md", media_type="text/markdown",
            content_hash=LIVE + "0" * 48, size_bytes=10, chunk_count=chunks, status="ready",
            created_at=now, updated_at=now,
        )
    )  # fmt: skip


@pytest.fixture
def crashed(stores: Stores) -> str:
    """A knowledge base as interrupted ingestions leave it, and an index of a deleted one."""
    kb_id = stores.registry.create_kb("handbook").id
    _live_document(stores.registry, kb_id, "doc_live", 2)
    stores.add(kb_id, "doc_live", LIVE, 2)
    stores.add(kb_id, "doc_live", OLD, 3)  # killed before its old version was removed
    stores.add(kb_id, "doc_new", LIVE, 4)  # killed before the registry knew the document
    stores.add("kb_gone", "doc_x", LIVE, 5)  # killed between the registry and the indexes
    return kb_id


def _expected(kb_id: str) -> list[Repair]:
    return [
        Repair(index, kb, doc, version, n, reason)
        for index in ("vectors", "lexical")
        for kb, doc, version, n, reason in (
            (kb_id, "doc_live", OLD, 3, "inactive_version"),
            (kb_id, "doc_new", LIVE, 4, "unknown_document"),
            ("kb_gone", None, None, 5, "unknown_kb"),
        )
    ]


def test_orphans_are_removed_and_reported_and_live_chunks_kept(
    stores: Stores, crashed: str
) -> None:
    """Chunks of versions that never became (or stopped being) live stayed in both indexes
    after a crash, taking candidate slots from live chunks for ever."""
    done = stores.reconciler().run()
    assert sorted(done.repairs, key=repr) == sorted(_expected(crashed), key=repr)
    assert done.chunks("vectors") == done.chunks("lexical") == 12
    assert done.summary().startswith("removed 12 vectors chunks")
    live = {("doc_live", LIVE): 2}
    assert stores.held(crashed) == {"vectors": live, "lexical": live}
    assert "kb_gone" not in stores.store.kb_ids() | stores.lexical.kb_ids()
    assert [c.text for c in stores.store.chunks(crashed, "doc_live", LIVE)] == [
        f"passage {i} of doc_live {LIVE}" for i in range(2)
    ]
    again = stores.reconciler().run()
    assert again.clean and again.summary() == "nothing to fix"


def test_a_dry_run_reports_the_same_and_changes_nothing(stores: Stores, crashed: str) -> None:
    before = stores.held(crashed)
    looked = stores.reconciler().run(dry_run=True)
    assert sorted(looked.repairs, key=repr) == sorted(_expected(crashed), key=repr)
    assert looked.summary().startswith("would remove 12 vectors chunks")
    assert stores.held(crashed) == before and "kb_gone" in stores.store.kb_ids()


def test_the_quick_start_run_finds_what_crashes_leave(stores: Stores, crashed: str) -> None:
    assert sorted(stores.reconciler().run(quick=True).repairs, key=repr) == sorted(
        _expected(crashed), key=repr
    )
    assert stores.reconciler().run(quick=True).clean


def test_stray_chroma_folders_go_and_nothing_else(stores: Stores, tmp_path: Path) -> None:
    """Segment folders of collections deleted before deletion removed them
    (chroma-core/chroma#1309) stayed on disk for ever."""
    kb_id = stores.registry.create_kb("kept").id
    _live_document(stores.registry, kb_id, "doc_live", 2)
    stores.add(kb_id, "doc_live", LIVE, 2)
    in_use = {p.name for p in stores.chroma.iterdir() if p.is_dir()}
    stray = stores.chroma / str(uuid.uuid4())
    stray.mkdir()
    (stray / "data_level0.bin").write_bytes(b"\0" * 64)
    outside = tmp_path / "outside"
    outside.mkdir()
    linked = stores.chroma / str(uuid.uuid4())
    linked.symlink_to(outside, target_is_directory=True)
    named_file = stores.chroma / str(uuid.uuid4())
    named_file.write_text("a file, not a folder")
    other = stores.chroma / "backups"
    other.mkdir()

    assert stores.reconciler().run(dry_run=True).stray_files == 1 and stray.is_dir()
    done = stores.reconciler().run()
    assert done.stray_files == 1 and not stray.exists()
    assert outside.is_dir() and linked.is_symlink() and named_file.is_file() and other.is_dir()
    assert in_use <= {p.name for p in stores.chroma.iterdir()}
    assert stores.store.versions(kb_id) == {("doc_live", LIVE): 2}


def test_rows_naming_a_deleted_kb_are_erased(stores: Stores) -> None:
    """Webhook deliveries of a deleted knowledge base (lead.created: a name and an e-mail
    address) stayed in the delivery log."""
    hooks = WebhookRepository(stores.registry.engine, SecretBox([Fernet.generate_key().decode()]))
    hook = hooks.create("https://hooks.example.com/", ["*"], "s" * 16, "")
    kb_id = stores.registry.create_kb("kept").id
    kept = hooks.enqueue(Event("lead.created", {"kb_id": kb_id, "email": "kept@example.com"}))
    body = '{"id":"evt_1","type":"lead.created","data":{"kb_id":"kb_gone","email":"a@b.example"}}'
    gone = hooks.add_delivery(hook.id, "lead.created", "evt_1", body)
    ping = hooks.add_delivery(hook.id, "ping", "evt_2", '{"data":{"webhook_id":"wh_1"}}')

    looked = stores.reconciler().run(dry_run=True)
    assert looked.rows == {"webhook_deliveries": 1}
    done = stores.reconciler().run()
    assert done.rows == {"webhook_deliveries": 1}
    left, _ = hooks.deliveries(hook.id)
    assert {d.id for d in left} == {kept[0].id, ping.id} and gone.id not in {d.id for d in left}
    assert stores.reconciler().run().clean
