"""Dropping a knowledge base from embedded Chroma removes what Chroma itself leaves on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.index.chroma_files import ChromaFiles
from kb.index.vectors import ChromaStore
from kb.models import Chunk, chunk_id


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ChromaStore]:
    chroma = ChromaStore(tmp_path / "chroma")  # texts kept in Chroma, as without a BM25 index
    yield chroma
    chroma.close()


def _fill(store: ChromaStore, kb_id: str, word: str) -> None:
    chunks = [
        Chunk(
            id=chunk_id("doc_1", "v1", i), kb_id=kb_id, document_id="doc_1", version="v1",
            index=i, text=f"{word} passage {i}", title=f"{word} title", source=f"{word}.md",
            media_type="text/markdown", start_char=0, end_char=10,
        )
        for i in range(1500)  # past Chroma's sync threshold: its index files are written
    ]  # fmt: skip
    store.add(kb_id, chunks, [[1.0, float(i % 7), 0.5] for i in range(len(chunks))])


def _folders(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir()}


def test_drop_removes_the_segment_folder_and_the_freed_bytes(
    store: ChromaStore, tmp_path: Path
) -> None:
    """Chroma kept a deleted collection's segment folder (chroma-core/chroma#1309) and its rows'
    bytes in chroma.sqlite3's free pages."""
    root = tmp_path / "chroma"
    _fill(store, "kb_kept", "zzkept1")
    kept = _folders(root)
    _fill(store, "kb_gone", "zzgone1")
    gone = _folders(root) - kept
    assert gone and b"zzgone1" in (root / "chroma.sqlite3").read_bytes()

    store.drop("kb_gone")

    assert _folders(root) == kept
    assert b"zzgone1" not in (root / "chroma.sqlite3").read_bytes()
    assert b"zzkept1" in (root / "chroma.sqlite3").read_bytes()
    assert store.kb_ids() == {"kb_kept"} and store.count("kb_kept") == 1500
    hits = store.query("kb_kept", [1.0, 3.0, 0.5], k=3)
    assert [h.document_id for h in hits] == ["doc_1"] * 3
    store.drop("kb_gone")  # dropping again is a no-op


def test_a_folder_whose_segment_is_live_is_never_removed(
    store: ChromaStore, tmp_path: Path
) -> None:
    """Only folders of segments that no longer exist go, whatever the caller asks."""
    root = tmp_path / "chroma"
    _fill(store, "kb_kept", "zzkept1")
    live = _folders(root)
    files = ChromaFiles(root)
    assert files.remove_segments(live) == 0 and _folders(root) == live
    db = sqlite3.connect(root / "chroma.sqlite3")
    (collection,) = db.execute("SELECT id FROM collections WHERE name = 'kb_kept'").fetchone()
    db.close()
    assert live <= files.segment_ids(collection)
