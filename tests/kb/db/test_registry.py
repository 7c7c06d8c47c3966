"""The SQLite registry of knowledge bases and documents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kb.db.registry import Registry
from kb.errors import DocumentNotFound, KnowledgeBaseExists, KnowledgeBaseNotFound
from kb.models import Document


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(f"sqlite:///{tmp_path / 'sub' / 'kb.sqlite3'}")


def _doc(kb_id: str, doc_id: str, source: str, chunks: int = 2) -> Document:
    now = datetime.now(UTC)
    return Document(
        id=doc_id,
        kb_id=kb_id,
        title="T",
        source=source,
        media_type="text/plain",
        content_hash="a" * 64,
        size_bytes=10,
        chunk_count=chunks,
        status="ready",
        created_at=now,
        updated_at=now,
        metadata={"team": "hr"},
    )


def test_knowledge_bases_round_trip(registry: Registry) -> None:
    kb = registry.create_kb("handbook", "Staff rules")
    assert kb.id.startswith("kb_") and kb.created_at.tzinfo is not None
    assert registry.get_kb(kb.id).name == "handbook"
    assert registry.find_kb("handbook") == registry.find_kb(kb.id)
    assert registry.find_kb("other") is None
    with pytest.raises(KnowledgeBaseExists):
        registry.create_kb("handbook")
    renamed = registry.update_kb(kb.id, name="rules")
    assert renamed.name == "rules" and renamed.description == "Staff rules"
    registry.delete_kb(kb.id)
    with pytest.raises(KnowledgeBaseNotFound):
        registry.get_kb(kb.id)


def test_documents_counted_listed_and_deleted(registry: Registry) -> None:
    kb = registry.create_kb("kb")
    for i in range(3):
        registry.save_document(_doc(kb.id, f"doc_{i}", f"s{i}", chunks=i + 1))
    assert registry.get_kb(kb.id).document_count == 3
    assert registry.get_kb(kb.id).chunk_count == 6
    page, total = registry.list_documents(kb.id, limit=2, offset=1)
    assert total == 3 and [d.id for d in page] == ["doc_1", "doc_2"]
    assert registry.find_document_by_source(kb.id, "s2").id == "doc_2"  # type: ignore[union-attr]
    assert registry.get_document(kb.id, "doc_0").metadata == {"team": "hr"}
    registry.delete_document(kb.id, "doc_0")
    with pytest.raises(DocumentNotFound):
        registry.get_document(kb.id, "doc_0")
    assert registry.active_versions(kb.id, {"doc_1", "doc_0"}) == {"doc_1": "a" * 64}


def test_a_document_is_only_visible_in_its_own_kb(registry: Registry) -> None:
    a, b = registry.create_kb("a"), registry.create_kb("b")
    registry.save_document(_doc(a.id, "doc_x", "s"))
    with pytest.raises(DocumentNotFound):
        registry.get_document(b.id, "doc_x")
    with pytest.raises(DocumentNotFound):
        registry.delete_document(b.id, "doc_x")


def test_deleting_a_kb_deletes_its_documents(registry: Registry) -> None:
    kb = registry.create_kb("kb")
    registry.save_document(_doc(kb.id, "doc_1", "s"))
    registry.delete_kb(kb.id)
    other = registry.create_kb("kb")
    assert registry.list_documents(other.id, 10, 0) == ([], 0)
    assert registry.active_versions(kb.id, {"doc_1"}) == {}
