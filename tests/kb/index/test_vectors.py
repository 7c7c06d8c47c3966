"""The Chroma vector store with chunk texts kept in the lexical index (each text stored once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.index.lexical import SqliteLexicalIndex
from kb.index.vectors import ChromaStore
from kb.models import Chunk, chunk_id, chunk_id_parts


def _chunk(doc: str, index: int, text: str, section: str | None = None) -> Chunk:
    return Chunk(
        id=f"{doc}:v1:{index}", kb_id="kb_1", document_id=doc, version="v1", index=index,
        text=text, title="Manual", source=f"{doc}.md", media_type="text/markdown",
        start_char=0, end_char=len(text), section=section,
    )  # fmt: skip


def _vector(seed: int) -> list[float]:
    return [float((seed * 7 + i) % 5) + 1.0 for i in range(8)]


CHUNKS = [
    _chunk("doc_a", 1, "Second passage, no heading."),
    _chunk("doc_a", 0, "Intro\nThe text starts with its own heading.", section="Intro"),
    _chunk("doc_b", 0, "  Leading spaces and a trailing newline\n", section="Setup > Linux"),
]


@pytest.fixture
def lexical(tmp_path: Path) -> Iterator[SqliteLexicalIndex]:
    index = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    yield index
    index.close()


@pytest.fixture
def store(tmp_path: Path, lexical: SqliteLexicalIndex) -> Iterator[ChromaStore]:
    chroma = ChromaStore(tmp_path / "chroma", texts=lexical)
    yield chroma
    chroma.close()


def test_texts_are_stored_once_and_read_back_exactly(
    store: ChromaStore, lexical: SqliteLexicalIndex
) -> None:
    store.add("kb_1", CHUNKS, [_vector(i) for i in range(len(CHUNKS))])
    lexical.add("kb_1", CHUNKS)
    in_chroma = store._collection("kb_1").get(include=["documents"])["documents"]
    assert in_chroma == [None] * len(CHUNKS)  # Chroma holds vectors and metadata only
    got = dict(store.get("kb_1", [c.id for c in CHUNKS]))
    assert {c.id: c.text for c in got} == {c.id: c.text for c in CHUNKS}
    assert {c.id: c.section for c in got} == {c.id: c.section for c in CHUNKS}
    vectors = {c.id: v for c, v in store.get("kb_1", [CHUNKS[2].id])}
    assert vectors[CHUNKS[2].id] == pytest.approx(_vector(2))
    ordered = store.chunks("kb_1", "doc_a", version="v1")
    assert [c.text for c in ordered] == [CHUNKS[1].text, CHUNKS[0].text]


def test_a_chunk_whose_text_is_nowhere_is_left_out(
    store: ChromaStore, lexical: SqliteLexicalIndex, caplog: pytest.LogCaptureFixture
) -> None:
    """A chunk caught between the vector write and the lexical write is not served textless,
    and the operator is told."""
    store.add("kb_1", CHUNKS, [_vector(i) for i in range(len(CHUNKS))])
    lexical.add("kb_1", CHUNKS[:1])
    assert [c.id for c, _ in store.get("kb_1", [c.id for c in CHUNKS])] == [CHUNKS[0].id]
    assert "2 chunk(s) of kb_1 have no text" in caplog.text
    lexical.delete_document("kb_1", "doc_a")
    assert store.get("kb_1", [c.id for c in CHUNKS]) == []
    assert store.chunks("kb_1", "doc_a") == []


def test_chunks_written_with_their_text_in_chroma_are_still_read(
    tmp_path: Path, lexical: SqliteLexicalIndex
) -> None:
    """Data from before texts moved out of Chroma: the text is read from Chroma."""
    older = ChromaStore(tmp_path / "chroma")
    older.add("kb_1", CHUNKS, [_vector(i) for i in range(len(CHUNKS))])
    older.close()
    lexical.add("kb_1", CHUNKS[2:])  # indexed since; the others only in Chroma
    store = ChromaStore(tmp_path / "chroma", texts=lexical)
    try:
        got = [c for c, _ in store.get("kb_1", [c.id for c in CHUNKS])]
        assert {c.id: c.text for c in got} == {c.id: c.text for c in CHUNKS}
        assert [c.text for c in store.chunks("kb_1", "doc_a")] == [
            CHUNKS[1].text,
            CHUNKS[0].text,
        ]
    finally:
        store.close()


def test_nearest_chunks_name_their_document_and_version(store: ChromaStore) -> None:
    """The dense query reads document and version from chunk ids (``doc:version:index``, no
    metadata fetched); an id of another form, as a custom store could write, falls back to
    the chunk's metadata."""
    odd = Chunk(
        id="legacy-7", kb_id="kb_1", document_id="doc:with:colons", version="v9", index=0,
        text="An id of another form.", title="Old", source="old.md", media_type="text/markdown",
        start_char=0, end_char=22,
    )  # fmt: skip
    colons = _chunk("doc:with:colons", 3, "A document id with colons in it.")
    chunks = [*CHUNKS, odd, colons]
    store.add("kb_1", chunks, [_vector(i) for i in range(len(chunks))])
    hits = store.query("kb_1", _vector(0), k=len(chunks))
    assert {(h.chunk_id, h.document_id, h.version) for h in hits} == {
        (c.id, c.document_id, c.version) for c in chunks
    }
    assert hits[0].chunk_id == CHUNKS[0].id and hits[0].similarity == pytest.approx(1.0)
    assert chunk_id_parts("doc:with:colons:v1:3") == ("doc:with:colons", "v1")
    assert chunk_id_parts("legacy-7") is None and chunk_id_parts("a:b:c") is None
    assert chunk_id("doc_a", "v1", 2) == "doc_a:v1:2"
