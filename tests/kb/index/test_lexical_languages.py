"""The lexical index per language: stemming, diacritics, mixed collections, old indexes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kb.index.lexical import ANALYZER_VERSION, SqliteLexicalIndex
from kb.models import Chunk


def _chunk(doc: str, index: int, text: str, title: str = "") -> Chunk:
    return Chunk(
        id=f"{doc}:v1:{index}", kb_id="kb_1", document_id=doc, version="v1", index=index,
        text=text, title=title, source=f"{doc}.txt", media_type="text/plain",
        start_char=0, end_char=len(text),
    )  # fmt: skip


FRENCH = [
    _chunk("elephants", 0, "L'éléphant d'Afrique mange jusqu'à deux cents kilos de végétaux."),
    _chunk("livraison", 0, "La livraison est gratuite dès cinquante euros d'achat en France."),
    _chunk("garantie", 0, "Chaque appareil bénéficie d'une garantie de deux ans pièces et main."),
]
ENGLISH = [
    _chunk("runners", 0, "The runners were running along the river at dawn."),
    _chunk("refunds", 0, "Refunds are issued to the original card within five working days."),
]


def _ids(index: SqliteLexicalIndex, query: str) -> list[str]:
    return [h.document_id for h in index.search("kb_1", query, 10)]


def test_french_plural_and_accents_match_singular_unaccented(tmp_path: Path) -> None:
    index = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    index.add("kb_1", FRENCH + ENGLISH)
    assert _ids(index, "elephants")[0] == "elephants"  # no accents, plural
    assert _ids(index, "Que mangent les éléphants ?")[0] == "elephants"
    assert _ids(index, "LIVRAISONS GRATUITES")[0] == "livraison"
    assert _ids(index, "quelles garanties ?") == ["garantie"]
    # English keeps its stemming in the same knowledge base.
    assert _ids(index, "who runs by the river")[0] == "runners"
    assert _ids(index, "refund card")[0] == "refunds"


def test_french_function_words_do_not_match(tmp_path: Path) -> None:
    index = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    index.add("kb_1", FRENCH)
    assert _ids(index, "la de les une est") == []
    [hit] = index.search("kb_1", "Quelle est la garantie ?", 10)
    assert hit.document_id == "garantie" and hit.coverage == 1.0


def test_chunk_languages_are_recorded(tmp_path: Path) -> None:
    index = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    index.add("kb_1", FRENCH + ENGLISH)
    assert [code for code, _ in index.languages("kb_1")] == ["fr", "en"]
    assert index.languages("kb_1")[0][1] == 0.6
    index.delete_document("kb_1", "elephants")
    index.delete_document("kb_1", "livraison")
    assert {code for code, _ in index.languages("kb_1")} == {"fr", "en"}
    assert index.languages("kb_1")[0] == ("en", 2 / 3)


def test_an_undetected_query_is_read_in_the_collections_language(tmp_path: Path) -> None:
    """One word is too little to detect; the knowledge base being French, its French stem
    is searched (and the English one is not needed)."""
    index = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    index.add("kb_1", FRENCH)
    [hit] = index.search("kb_1", "garanties", 10)
    assert hit.document_id == "garantie" and hit.matched == ("garanties",)
    assert hit.coverage == 1.0


def test_an_index_written_with_porter_is_rebuilt_on_open(tmp_path: Path) -> None:
    """Indexes written before language-aware terms (FTS5 Porter tokenizer) keep working."""
    path = tmp_path / "lexical.sqlite3"
    db = sqlite3.connect(path)
    db.execute(
        "CREATE VIRTUAL TABLE fts_kb_1 USING fts5(chunk_id UNINDEXED, document_id UNINDEXED,"
        " version UNINDEXED, media_type UNINDEXED, title, text,"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TABLE ids_kb_1 (chunk_id TEXT PRIMARY KEY, fts_rowid INTEGER NOT NULL,"
        " document_id TEXT NOT NULL, version TEXT NOT NULL)"
    )
    for rowid, chunk in enumerate(FRENCH + ENGLISH, start=1):
        section = "Heading\n" if chunk.document_id == "refunds" else ""
        db.execute(
            "INSERT INTO fts_kb_1 (rowid, chunk_id, document_id, version, media_type, title,"
            " text) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rowid, chunk.id, chunk.document_id, "v1", "text/plain", "", section + chunk.text),
        )
        db.execute(
            "INSERT INTO ids_kb_1 VALUES (?, ?, ?, ?)", (chunk.id, rowid, chunk.document_id, "v1")
        )
    db.commit()
    db.close()
    index = SqliteLexicalIndex(path)
    assert index.count("kb_1") == 5
    assert _ids(index, "elephants")[0] == "elephants"
    assert _ids(index, "running")[0] == "runners"
    assert index.versions("kb_1") == {(c.document_id, "v1"): 1 for c in FRENCH + ENGLISH}
    texts = index.chunk_texts("kb_1", {"refunds:v1:0": "Heading"})
    assert texts == {"refunds:v1:0": ENGLISH[1].text}
    index.add("kb_1", [_chunk("new", 0, "Les nouveaux éléphants arrivent.")])
    assert set(_ids(index, "éléphant")) == {"elephants", "new"}
    index.close()
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == ANALYZER_VERSION
    assert not check.execute("SELECT 1 FROM sqlite_master WHERE name LIKE 'rebuild%'").fetchall()
    reopened = SqliteLexicalIndex(path)  # nothing left to rebuild
    assert set(_ids(reopened, "elephants")) == {"elephants", "new"}
