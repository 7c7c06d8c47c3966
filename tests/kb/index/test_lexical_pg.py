"""The lexical index on a real PostgreSQL: the FTS5 index's behaviour, shared by processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from kb.db.engine import make_engine
from kb.index.lexical import SqliteLexicalIndex
from kb.index.lexical_pg import TABLE, PostgresLexicalIndex
from kb.models import Chunk
from tests.support.postgres_server import postgres_server, postgres_url  # noqa: F401 (fixtures)


def _chunk(doc: str, version: str, index: int, text: str, **fields: str) -> Chunk:
    return Chunk(
        id=f"{doc}:{version}:{index}", kb_id="kb_1", document_id=doc, version=version,
        index=index, text=text, title=fields.get("title", ""), source=f"{doc}.txt",
        media_type=fields.get("media", "text/plain"), start_char=0, end_char=len(text),
    )  # fmt: skip


ENGLISH = [
    _chunk("doc_a", "v1", 0, "The runners were running along the river at dawn."),
    _chunk("doc_b", "v1", 0, "Error ERR4711 means the license server is unreachable.",
           media="text/markdown"),
    _chunk("doc_c", "v1", 0, "Bananas are rich in potassium."),
]  # fmt: skip
FRENCH = [
    _chunk("elephants", "v1", 0, "L'éléphant d'Afrique mange jusqu'à deux cents kilos."),
    _chunk("livraison", "v1", 0, "La livraison est gratuite dès cinquante euros d'achat."),
    _chunk("garantie", "v1", 0, "Chaque appareil bénéficie d'une garantie de deux ans."),
]  # fmt: skip


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:  # noqa: F811 (the imported fixture)
    built = make_engine(postgres_url)
    yield built
    built.dispose()


@pytest.fixture
def index(engine: Engine) -> PostgresLexicalIndex:
    idx = PostgresLexicalIndex(engine)
    idx.add("kb_1", ENGLISH)
    return idx


def _ids(index: PostgresLexicalIndex, query: str, kb_id: str = "kb_1") -> list[str]:
    return [h.document_id for h in index.search(kb_id, query, 10)]


def test_ranks_matching_chunks_with_stemming(index: PostgresLexicalIndex) -> None:
    hits = index.search("kb_1", "who runs by the river", 10)
    assert hits[0].chunk_id == "doc_a:v1:0" and hits[0].score > 0
    assert hits[0].matched == ("runs", "river") and hits[0].coverage == 1.0
    assert _ids(index, "ERR4711") == ["doc_b"]
    assert index.search("kb_1", "zeppelin", 10) == []


def test_rarer_words_weigh_more(index: PostgresLexicalIndex) -> None:
    index.add(
        "kb_1", [_chunk(f"filler_{i}", "v1", 0, f"The server room {i} is cold.") for i in range(6)]
    )
    # "server" is in seven chunks, "license" in one: the chunk with the rare word comes first.
    assert _ids(index, "server license")[0] == "doc_b"


def test_updates_and_deletes_are_incremental(index: PostgresLexicalIndex) -> None:
    index.add("kb_1", [_chunk("doc_c", "v2", 0, "Kiwis are rich in vitamin C.")])
    index.delete_document("kb_1", "doc_c", keep_version="v2")
    assert index.search("kb_1", "bananas potassium", 10) == []
    assert [h.version for h in index.search("kb_1", "kiwis", 10)] == ["v2"]
    assert index.versions("kb_1") == {("doc_a", "v1"): 1, ("doc_b", "v1"): 1, ("doc_c", "v2"): 1}
    index.delete_version("kb_1", "doc_c", "v2")
    index.delete_document("kb_1", "doc_a")
    assert index.count("kb_1") == 1 and index.kb_ids() == {"kb_1"}
    index.drop("kb_1")
    assert index.count("kb_1") == 0 and index.search("kb_1", "error", 10) == []
    assert index.kb_ids() == set()


def test_re_adding_a_chunk_replaces_it(index: PostgresLexicalIndex) -> None:
    index.add("kb_1", [_chunk("doc_c", "v1", 0, "Mangoes are sweet.")])
    assert index.count("kb_1") == 3
    assert _ids(index, "bananas") == [] and _ids(index, "mangoes") == ["doc_c"]


def test_filters_restrict_documents_and_media_types(index: PostgresLexicalIndex) -> None:
    query = "river license bananas"
    assert set(_ids_in(index, query, ["doc_a", "doc_c"])) == {"doc_a", "doc_c"}
    assert [
        h.document_id for h in index.search("kb_1", query, 10, media_types=["text/markdown"])
    ] == ["doc_b"]
    assert index.search("kb_1", query, 10, document_ids=[]) == []


def _ids_in(index: PostgresLexicalIndex, query: str, documents: list[str]) -> list[str]:
    return [h.document_id for h in index.search("kb_1", query, 10, documents)]


@pytest.mark.parametrize(
    "hostile",
    ['" OR 1=1 --', "a & !b | c:*", "'; DROP TABLE lexical_chunks; --", "*", "", "<-> !!"],
)
def test_query_syntax_in_user_input_is_inert(index: PostgresLexicalIndex, hostile: str) -> None:
    index.search("kb_1", hostile, 10)  # must not raise
    assert index.count("kb_1") == 3


def test_knowledge_bases_do_not_meet(index: PostgresLexicalIndex) -> None:
    index.add("kb_2", [_chunk("doc_z", "v1", 0, "The river of another tenant.")])
    assert _ids(index, "river") == ["doc_a"] and _ids(index, "river", "kb_2") == ["doc_z"]
    assert index.chunk_texts("kb_2", {"doc_a:v1:0": None}) == {}


def test_french_accents_plurals_and_function_words(engine: Engine) -> None:
    index = PostgresLexicalIndex(engine)
    index.add("kb_1", FRENCH + ENGLISH)
    assert _ids(index, "elephants")[0] == "elephants"  # no accents, plural
    assert _ids(index, "Que mangent les éléphants ?")[0] == "elephants"
    assert _ids(index, "LIVRAISONS GRATUITES")[0] == "livraison"
    assert _ids(index, "who runs by the river")[0] == "doc_a"  # English in the same base
    assert _ids(index, "la de les une est") == []
    [hit] = index.search("kb_1", "Quelle est la garantie ?", 10)
    assert hit.document_id == "garantie" and hit.coverage == 1.0
    assert [code for code, _ in index.languages("kb_1")] == ["fr", "en"]


def test_chunk_texts_keep_the_section_heading_out(engine: Engine) -> None:
    index = PostgresLexicalIndex(engine)
    chunk = Chunk(
        id="d:v:0", kb_id="kb_1", document_id="d", version="v", index=0, text="Opens at 8.",
        title="Hours", source="d.md", media_type="text/markdown", start_char=0, end_char=11,
        section="Opening hours",
    )  # fmt: skip
    index.add("kb_1", [chunk])
    assert index.chunk_texts("kb_1", {"d:v:0": "Opening hours", "gone:v:0": None}) == {
        "d:v:0": "Opens at 8."
    }
    assert _ids(index, "opening hours") == ["d"]  # the heading is searchable


def test_a_second_process_sees_the_writes_and_a_reopened_index_rebuilds(
    engine: Engine,
    postgres_url: str,  # noqa: F811 (the imported fixture)
) -> None:
    """Two replicas share the table; an index written by an older analyzer is re-analysed."""
    first = PostgresLexicalIndex(engine)
    first.add("kb_1", ENGLISH)
    other_engine = make_engine(postgres_url)
    try:
        other = PostgresLexicalIndex(other_engine)
        assert _ids(other, "potassium") == ["doc_c"]
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE {TABLE} SET terms = to_tsvector('simple', 'x')"))
            connection.execute(text(f"UPDATE {TABLE}_meta SET value = '0'"))
        assert _ids(other, "potassium") == []
        assert _ids(PostgresLexicalIndex(other_engine), "potassium") == ["doc_c"]
    finally:
        other_engine.dispose()


def test_finds_what_the_fts5_index_finds(engine: Engine, tmp_path: Path) -> None:
    pg, fts = PostgresLexicalIndex(engine), SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    for idx in (pg, fts):
        idx.add("kb_1", FRENCH + ENGLISH)
    try:
        for query in [
            "quelles garanties ?",
            "license error",
            "livraison gratuite",
            "river runners",
        ]:
            found = {h.chunk_id: h for h in fts.search("kb_1", query, 10)}
            hits = pg.search("kb_1", query, 10)
            assert {h.chunk_id for h in hits} == set(found)
            assert hits[0].chunk_id == fts.search("kb_1", query, 1)[0].chunk_id
            assert all(h.matched == found[h.chunk_id].matched for h in hits)
            assert all(abs(h.coverage - found[h.chunk_id].coverage) < 1e-9 for h in hits)
    finally:
        fts.close()
