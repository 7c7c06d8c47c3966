"""The SQLite FTS5 BM25 index: incremental updates, stemming, filters and hostile queries."""

from __future__ import annotations

import gc
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kb.index.lexical import SqliteLexicalIndex, analysed_rows, fts_match
from kb.index.query import fts_query
from kb.models import Chunk
from kb.text import query_terms


def _chunk(doc: str, version: str, index: int, text: str, media: str = "text/plain") -> Chunk:
    return Chunk(
        id=f"{doc}:{version}:{index}", kb_id="kb_1", document_id=doc, version=version,
        index=index, text=text, title="", source=f"{doc}.txt", media_type=media,
        start_char=0, end_char=len(text),
    )  # fmt: skip


@pytest.fixture
def index(tmp_path: Path) -> SqliteLexicalIndex:
    idx = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    idx.add("kb_1", [
        _chunk("doc_a", "v1", 0, "The runners were running along the river at dawn."),
        _chunk("doc_b", "v1", 0, "Error ERR4711 means the license server is unreachable.",
               media="text/markdown"),
        _chunk("doc_c", "v1", 0, "Bananas are rich in potassium."),
    ])  # fmt: skip
    return idx


def test_bm25_ranks_matching_chunks_with_stemming(index: SqliteLexicalIndex) -> None:
    hits = index.search("kb_1", "who runs by the river", 10)
    assert hits[0].chunk_id == "doc_a:v1:0"
    assert hits[0].score > 0
    assert [h.chunk_id for h in index.search("kb_1", "ERR4711", 10)] == ["doc_b:v1:0"]
    assert index.search("kb_1", "zeppelin", 10) == []


def test_updates_and_deletes_are_incremental(index: SqliteLexicalIndex) -> None:
    index.add("kb_1", [_chunk("doc_c", "v2", 0, "Kiwis are rich in vitamin C.")])
    index.delete_document("kb_1", "doc_c", keep_version="v2")
    assert index.search("kb_1", "bananas potassium", 10) == []
    assert [h.version for h in index.search("kb_1", "kiwis", 10)] == ["v2"]
    index.delete_version("kb_1", "doc_c", "v2")
    index.delete_document("kb_1", "doc_a")
    assert index.count("kb_1") == 1
    index.drop("kb_1")
    assert index.count("kb_1") == 0 and index.search("kb_1", "error", 10) == []


def test_filters_restrict_documents_and_media_types(index: SqliteLexicalIndex) -> None:
    query = "river license bananas"
    assert {h.document_id for h in index.search("kb_1", query, 10, ["doc_a", "doc_c"])} == {
        "doc_a", "doc_c"
    }  # fmt: skip
    assert [
        h.document_id for h in index.search("kb_1", query, 10, media_types=["text/markdown"])
    ] == ["doc_b"]
    assert index.search("kb_1", query, 10, document_ids=[]) == []


@pytest.mark.parametrize(
    "hostile", ['" OR 1=1 --', "NEAR(a b", "text:* AND NOT", "');DROP TABLE fts_kb_1;--", "*", ""]
)
def test_query_syntax_in_user_input_is_inert(index: SqliteLexicalIndex, hostile: str) -> None:
    index.search("kb_1", hostile, 10)  # must not raise
    assert index.count("kb_1") == 3
    assert all(part.startswith('"') for part in fts_query(hostile).split(" OR ") if part)
    match = fts_match(query_terms(hostile, ["en", "fr"]))
    assert all(
        part.startswith('"') and part[1:-1].isalnum() for part in match.split(" OR ") if part
    )


def test_survives_reopening(tmp_path: Path) -> None:
    first = SqliteLexicalIndex(tmp_path / "l.sqlite3")
    first.add("kb_9", [_chunk("d", "v", 0, "Persistent words survive restarts.")])
    first.close()
    again = SqliteLexicalIndex(tmp_path / "l.sqlite3")
    assert again.search("kb_9", "restarts", 5)[0].chunk_id == "d:v:0"


def test_reads_do_not_wait_for_a_write(index: SqliteLexicalIndex) -> None:
    """Searches and text reads run on per-thread connections beside a write in progress (WAL),
    seeing what was committed before it; the write's rows show once it commits."""
    index.search("kb_1", "bananas", 10)  # the table is known: reads take no lock
    new = _chunk("doc_d", "v1", 0, "Bananas ripen faster next to apples.")
    pool = ThreadPoolExecutor(2)
    try:
        with index._lock:  # a write in progress, as ingestion holds it
            index._db.execute("BEGIN")
            index._insert("kb_1", [(100, *analysed_rows([new], "en")[0])])
            searching = pool.submit(index.search, "kb_1", "bananas", 10)
            reading = pool.submit(index.chunk_texts, "kb_1", {"doc_c:v1:0": None})
            try:  # a read waiting for the lock would time out here
                hits, texts = searching.result(timeout=5), reading.result(timeout=5)
            except BaseException:
                index._db.execute("ROLLBACK")
                raise
            index._db.execute("COMMIT")
    finally:
        pool.shutdown()  # after the lock is released, so a blocked read cannot hang the test
    assert [h.chunk_id for h in hits] == ["doc_c:v1:0"]  # not the uncommitted row
    assert texts == {"doc_c:v1:0": "Bananas are rich in potassium."}
    with ThreadPoolExecutor(1) as again:
        after = again.submit(index.search, "kb_1", "bananas", 10).result(timeout=5)
    assert {h.chunk_id for h in after} == {"doc_c:v1:0", "doc_d:v1:0"}


def test_read_connections_go_with_their_threads_and_close(index: SqliteLexicalIndex) -> None:
    for _ in range(20):  # short-lived threads, as a server's worker pool has
        worker = threading.Thread(target=index.search, args=("kb_1", "river", 5))
        worker.start()
        worker.join()
    gc.collect()
    assert len(index._readers._open) <= 1
    index.search("kb_1", "river", 5)
    index.close()
    assert len(index._readers._open) == 1  # closed, not yet collected
    with pytest.raises(sqlite3.ProgrammingError):
        index.search("kb_1", "river", 5)


def test_a_search_racing_a_drop_finds_nothing(index: SqliteLexicalIndex) -> None:
    """A knowledge base deleted between a search's table check and its query: no hits, no
    error."""
    index.search("kb_1", "river", 5)
    index._db.execute("DROP TABLE fts_kb_1")  # dropped behind the index's back
    assert index.search("kb_1", "river", 5) == []
    assert index.chunk_texts("kb_1", {"doc_a:v1:0": None}) == {}
