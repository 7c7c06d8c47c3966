"""The lexical (BM25) index: SQLite FTS5, one table per knowledge base, updated incrementally.

FTS5 ranks with its built-in Okapi BM25. It is language-aware: each chunk's language is
detected when it is indexed (``kb.text``) and FTS5 indexes the chunk's terms, folded (case,
diacritics) and stemmed with that language's Snowball stemmer; a query is read the same way in
its own detected language and in the knowledge base's main languages, with its function words
left out. The index lives in its own SQLite file so the registry can move to PostgreSQL without
touching it. It is also where chunk texts are kept: the vector store holds vectors and metadata
only, and reads the texts back from here (``chunk_texts``), so each text is stored once.

Indexes written before terms were analysed here (FTS5's Porter tokenizer, English only), or by
an older analyzer (``PRAGMA user_version``), are rebuilt from their stored texts when opened.
"""

from __future__ import annotations

import logging
import math
import re
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Protocol

from kb.index.inventory import ChunkInventory
from kb.index.sqlite_readers import ThreadReaders
from kb.models import Chunk
from kb.text import chunk_languages, index_terms, query_languages, query_terms
from kb.text.analysis import QueryWord

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_]+$")
logger = logging.getLogger(__name__)

# Bumped when the terms an index stores change (tokenising, folding, stemming): older indexes
# are rebuilt from their texts on open.
ANALYZER_VERSION = 1
_COLUMNS = (
    "chunk_id UNINDEXED, document_id UNINDEXED, version UNINDEXED, media_type UNINDEXED,"
    " language UNINDEXED, title UNINDEXED, body UNINDEXED, title_terms, body_terms,"
    " tokenize='unicode61 remove_diacritics 2'"
)
_INSERT = (
    "(rowid, chunk_id, document_id, version, media_type, language, title, body, title_terms,"
    " body_terms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(frozen=True)
class LexicalHit:
    """A chunk id matched by the lexical index, with its BM25 score (higher is better), the
    query's content terms it contains, and ``coverage``: the share of the query's term weight
    (each content term weighs its IDF in the knowledge base, as in BM25) those terms carry."""

    chunk_id: str
    document_id: str
    version: str
    score: float
    matched: tuple[str, ...] = ()
    coverage: float = 0.0


class LexicalIndex(ChunkInventory, Protocol):
    """Keyword search over chunks, per knowledge base."""

    def add(self, kb_id: str, chunks: Sequence[Chunk]) -> None:
        """Index chunks (replacing any with the same id)."""

    def delete_document(
        self, kb_id: str, document_id: str, keep_version: str | None = None
    ) -> None:
        """Remove a document's chunks, sparing ``keep_version`` when given."""

    def delete_version(self, kb_id: str, document_id: str, version: str) -> None:
        """Remove one version of a document's chunks."""

    def drop(self, kb_id: str) -> None:
        """Remove a knowledge base's index."""

    def close(self) -> None:
        """Release the index's resources."""

    def chunk_texts(self, kb_id: str, sections: Mapping[str, str | None]) -> dict[str, str]:
        """The texts of the chunks ``sections`` names (id -> the chunk's section heading);
        chunks not indexed are left out."""

    def search(
        self,
        kb_id: str,
        query: str,
        k: int,
        document_ids: Sequence[str] | None = None,
        media_types: Sequence[str] | None = None,
    ) -> list[LexicalHit]:
        """Best BM25 matches first, restricted to the given documents and media types."""

    def languages(self, kb_id: str) -> list[tuple[str, float]]:
        """The knowledge base's chunk languages with their share of its chunks, most first."""


class SqliteLexicalIndex:
    """BM25 over SQLite FTS5 tables (``fts_<kb_id>``) in one database file.

    Writes go through one connection, under a lock. Reads (searches, chunk texts) use a
    connection per thread, without the lock: in WAL mode they run beside each other and beside
    a write, on its last committed state. With one shared connection, searches queued behind
    each other and behind ingestion's writes: at concurrency 8 and 100k chunks 67.5-71.9
    searches/s, against 68.9-79.5 (mean 69.6 against 75.3, six alternating runs each).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        # A dropped knowledge base's texts are overwritten with zeros, not left in free pages.
        self._db.execute("PRAGMA secure_delete=ON")
        self._lock = threading.Lock()
        self._known: set[str] = set()
        # Each knowledge base's languages with their share of its chunks, dropped on writes.
        self._languages: dict[str, list[tuple[str, float]]] = {}
        self._generation = 0  # commits so far: a count read before one is not cached after it
        self._readers = ThreadReaders(path)
        with self._lock:
            self._upgrade()

    def _upgrade(self) -> None:
        """Rebuild the indexes an older version wrote (see the module docstring)."""
        current = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        for kb_id in sorted(self._kb_ids()):
            sql = self._db.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (f"fts_{kb_id}",)
            ).fetchone()[0]
            if current != ANALYZER_VERSION or "body_terms" not in sql:
                self._write(partial(self._rebuild, kb_id, "body_terms" not in sql))
        self._db.execute(f"PRAGMA user_version = {ANALYZER_VERSION}")

    def _rebuild(self, kb_id: str, old_schema: bool) -> None:
        """Re-index a knowledge base from its stored texts, keeping rowids and chunk ids."""
        if not _SAFE_NAME.match(kb_id):
            return
        text = "text" if old_schema else "body"
        logger.info("rebuilding the lexical index of %s (language-aware terms)", kb_id)
        self._db.execute(f"ALTER TABLE fts_{kb_id} RENAME TO rebuild_{kb_id}")
        self._db.execute(f"DROP TABLE IF EXISTS ids_{kb_id}")
        self._create(kb_id)
        rows = self._db.execute(
            f"SELECT rowid, chunk_id, document_id, version, media_type, title, {text}"
            f" FROM rebuild_{kb_id} ORDER BY rowid"
        )
        fallback = None
        while batch := rows.fetchmany(500):
            items = [(r[2], f"{r[5]}\n{r[6]}" if r[5] else r[6]) for r in batch]
            languages = chunk_languages(items, fallback)
            fallback = fallback or next((lang for lang in languages if lang), None)
            self._insert(kb_id, [
                (*r[:5], lang, r[5], r[6], index_terms(r[5] or "", lang), index_terms(r[6], lang))
                for r, lang in zip(batch, languages, strict=True)
            ])  # fmt: skip
        self._db.execute(f"DROP TABLE rebuild_{kb_id}")

    def close(self) -> None:
        """Close the database, the read connections included."""
        with self._lock:
            self._db.close()
        self._readers.close()

    def _readable(self, kb_id: str) -> str | None:
        """The knowledge base's table, if it exists; takes the write lock only the first time."""
        table = f"fts_{kb_id}"
        if table in self._known:  # only checked, safe names are ever added
            return table
        with self._lock:
            return self._table(kb_id, create=False)

    def _table(self, kb_id: str, create: bool = True) -> str | None:
        if not _SAFE_NAME.match(kb_id):
            raise ValueError(f"unsafe knowledge base id {kb_id!r}")
        table = f"fts_{kb_id}"
        if table in self._known:
            return table
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        if not exists and not create:
            return None
        if not exists:
            self._create(kb_id)
        self._known.add(table)
        return table

    def _create(self, kb_id: str) -> None:
        """Create a knowledge base's two tables.

        FTS5 cannot index its UNINDEXED columns, so finding a chunk or a document's chunks
        there scans the whole table (32 ms per chunk at 100k chunks). The side table maps them
        to FTS rowids with real indexes, and counts the chunks of each language.
        """
        self._db.execute(f"CREATE VIRTUAL TABLE fts_{kb_id} USING fts5({_COLUMNS})")
        ids = f"ids_{kb_id}"
        self._db.execute(
            f"CREATE TABLE {ids} (chunk_id TEXT PRIMARY KEY, fts_rowid INTEGER NOT NULL,"
            " document_id TEXT NOT NULL, version TEXT NOT NULL, language TEXT)"
        )
        self._db.execute(f"CREATE INDEX {ids}_doc ON {ids} (document_id, version)")
        self._db.execute(f"CREATE INDEX {ids}_language ON {ids} (language)")

    def _insert(self, kb_id: str, rows: Sequence[tuple[object, ...]]) -> None:
        """Write analysed rows (``_INSERT``'s columns) to both tables."""
        self._db.executemany(f"INSERT INTO fts_{kb_id} {_INSERT}", rows)
        self._db.executemany(
            f"INSERT INTO ids_{kb_id} (chunk_id, fts_rowid, document_id, version, language)"
            " VALUES (?, ?, ?, ?, ?)",
            [(r[1], r[0], r[2], r[3], r[5]) for r in rows],
        )

    def _delete_rowids(self, kb_id: str, where: str, params: Sequence[str]) -> None:
        """Delete the chunks the side table selects with ``where`` from both tables."""
        rows = self._db.execute(
            f"SELECT fts_rowid FROM ids_{kb_id} WHERE {where}", list(params)
        ).fetchall()
        rowids = [r[0] for r in rows]
        for start in range(0, len(rowids), 500):
            part = rowids[start : start + 500]
            marks = ",".join("?" * len(part))
            self._db.execute(f"DELETE FROM fts_{kb_id} WHERE rowid IN ({marks})", part)
            self._db.execute(f"DELETE FROM ids_{kb_id} WHERE fts_rowid IN ({marks})", part)

    def _write(self, fn: Callable[[], None]) -> None:
        self._db.execute("BEGIN")
        try:
            fn()
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        finally:
            self._forget_languages()

    def _forget_languages(self) -> None:
        self._generation += 1
        self._languages = {}

    def add(self, kb_id: str, chunks: Sequence[Chunk]) -> None:
        """Index chunks (replacing any with the same id)."""
        with self._lock:
            self._table(kb_id)
            main = self._kb_languages(self._db, kb_id)
        # Detection and stemming run outside the lock: other writers need not wait for them.
        analysed = analysed_rows(chunks, main[0][0] if main else None)
        with self._lock:
            table = self._table(kb_id)

            def write() -> None:
                for start in range(0, len(chunks), 500):
                    part = [c.id for c in chunks[start : start + 500]]
                    self._delete_rowids(kb_id, f"chunk_id IN ({','.join('?' * len(part))})", part)
                top = self._db.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()
                self._insert(kb_id, [(int(top[0]) + i + 1, *r) for i, r in enumerate(analysed)])

            self._write(write)

    def delete_document(
        self, kb_id: str, document_id: str, keep_version: str | None = None
    ) -> None:
        """Remove a document's chunks, sparing ``keep_version`` when given."""
        with self._lock:
            if self._table(kb_id, create=False) is None:
                return
            if keep_version is None:
                self._write(lambda: self._delete_rowids(kb_id, "document_id = ?", [document_id]))
            else:
                self._write(
                    lambda: self._delete_rowids(
                        kb_id, "document_id = ? AND version != ?", [document_id, keep_version]
                    )
                )

    def delete_version(self, kb_id: str, document_id: str, version: str) -> None:
        """Remove one version of a document's chunks."""
        with self._lock:
            if self._table(kb_id, create=False) is not None:
                self._write(
                    lambda: self._delete_rowids(
                        kb_id, "document_id = ? AND version = ?", [document_id, version]
                    )
                )

    def drop(self, kb_id: str) -> None:
        """Remove a knowledge base's index; its texts are left in neither the database file
        (``secure_delete``) nor the write-ahead log (emptied by a checkpoint)."""
        with self._lock:
            table = self._table(kb_id, create=False)
            if table is None:
                return
            self._db.execute(f"DROP TABLE IF EXISTS {table}")
            self._db.execute(f"DROP TABLE IF EXISTS ids_{kb_id}")
            self._known.discard(table)
            self._forget_languages()
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        if busy and busy[0]:
            logger.warning("lexical.sqlite3's write-ahead log could not be emptied (a reader)")

    def kb_ids(self) -> set[str]:
        """The knowledge bases that have an index here."""
        with self._lock:
            return self._kb_ids()

    def _kb_ids(self) -> set[str]:
        rows = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'fts!_%'"
            " ESCAPE '!' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
        ).fetchall()
        return {name.removeprefix("fts_") for (name,) in rows}

    def languages(self, kb_id: str) -> list[tuple[str, float]]:
        """The knowledge base's chunk languages with their share of its chunks, most first."""
        if self._readable(kb_id) is None:
            return []
        try:
            return self._kb_languages(self._readers.get(), kb_id)
        except sqlite3.OperationalError as exc:
            if not _dropped(exc):
                raise
            return []

    def _kb_languages(self, db: sqlite3.Connection, kb_id: str) -> list[tuple[str, float]]:
        generation = self._generation
        cached = self._languages.get(kb_id)
        if cached is not None:
            return cached
        rows = db.execute(
            f"SELECT language, count(*) AS n FROM ids_{kb_id} WHERE language IS NOT NULL"
            " GROUP BY language ORDER BY n DESC"
        ).fetchall()
        total = sum(int(n) for _, n in rows)
        shares = [(str(code), int(n) / total) for code, n in rows]
        if generation == self._generation:
            self._languages[kb_id] = shares
        return shares

    def versions(self, kb_id: str) -> dict[tuple[str, str], int]:
        """How many chunks each (document, version) has in the knowledge base's index."""
        with self._lock:
            if self._table(kb_id, create=False) is None:
                return {}
            rows = self._db.execute(
                f"SELECT document_id, version, count(*) FROM ids_{kb_id}"
                " GROUP BY document_id, version"
            ).fetchall()
        return {(doc, version): int(n) for doc, version, n in rows}

    def remove_stray_files(self, dry_run: bool = False) -> int:
        """None to remove: a knowledge base's index is two tables of one file."""
        return 0

    def count(self, kb_id: str) -> int:
        """Number of indexed chunks."""
        with self._lock:
            table = self._table(kb_id, create=False)
            if table is None:
                return 0
            return int(self._db.execute(f"SELECT count(*) FROM ids_{kb_id}").fetchone()[0])

    def chunk_texts(self, kb_id: str, sections: Mapping[str, str | None]) -> dict[str, str]:
        """The texts of the chunks ``sections`` names (id -> the chunk's section heading, which
        the index keeps in front of the text); chunks not indexed are left out."""
        ids = list(sections)
        rows: list[tuple[str, str]] = []
        if not ids or self._readable(kb_id) is None:
            return {}
        reader = self._readers.get()
        try:
            for start in range(0, len(ids), 500):
                part = ids[start : start + 500]
                rows += reader.execute(
                    f"SELECT i.chunk_id, f.body FROM ids_{kb_id} AS i"
                    f" JOIN fts_{kb_id} AS f ON f.rowid = i.fts_rowid"
                    f" WHERE i.chunk_id IN ({','.join('?' * len(part))})",
                    part,
                ).fetchall()
        except sqlite3.OperationalError as exc:
            if not _dropped(exc):
                raise
            return {}  # the knowledge base was deleted meanwhile
        return {chunk_id: _chunk_text(indexed, sections[chunk_id]) for chunk_id, indexed in rows}

    def search(
        self,
        kb_id: str,
        query: str,
        k: int,
        document_ids: Sequence[str] | None = None,
        media_types: Sequence[str] | None = None,
    ) -> list[LexicalHit]:
        """Best BM25 matches first; any query term may match (OR), rarer terms weigh more.
        The query is read in its own language and in the knowledge base's main ones. Each hit
        says which of the query's content terms it contains (``matched``, ``coverage``)."""
        if document_ids == [] or not query.strip():
            return []
        table = self._readable(kb_id)
        if table is None:
            return []
        try:
            collection = self._kb_languages(self._readers.get(), kb_id)
        except sqlite3.OperationalError as exc:
            if not _dropped(exc):
                raise
            return []
        query_words = query_terms(query, query_languages(query, collection))
        match = fts_match(query_words)
        if not match:
            return []
        where, params = [f"{table} MATCH ?"], [match]
        if document_ids is not None:
            where.append(f"document_id IN ({','.join('?' * len(document_ids))})")
            params += list(document_ids)
        if media_types:
            where.append(f"media_type IN ({','.join('?' * len(media_types))})")
            params += list(media_types)
        try:
            # bm25() is lower-is-better; title matches count double, as a heading does.
            reader = self._readers.get()
            rows = reader.execute(
                f"SELECT chunk_id, document_id, version,"
                f" bm25({table}, 0, 0, 0, 0, 0, 0, 0, 2.0, 1.0) AS s,"
                f" rowid FROM {table} WHERE {' AND '.join(where)} ORDER BY s LIMIT ?",
                [*params, k],
            ).fetchall()
            evidence = _term_evidence(reader, kb_id, query_words, [r[4] for r in rows])
        except sqlite3.OperationalError as exc:
            if not _dropped(exc):
                raise
            return []  # the knowledge base was deleted meanwhile
        return [
            LexicalHit(r[0], r[1], r[2], -float(r[3]), *evidence.get(r[4], ((), 0.0))) for r in rows
        ]


def fts_match(words: Sequence[QueryWord]) -> str:
    """An FTS5 query matching any term of ``words``; every term is quoted (terms are letters
    and digits only), so no operator syntax in user input reaches FTS5."""
    terms = dict.fromkeys(t for w in words for t in w.terms if t)
    return " OR ".join(f'"{t}"' for t in terms)


def _term_evidence(
    reader: sqlite3.Connection, kb_id: str, words: Sequence[QueryWord], rowids: list[int]
) -> dict[int, tuple[tuple[str, ...], float]]:
    """For each row, the query's words it contains (folded, in any of their stems) and the
    share of the query words' summed IDF they carry. A word read in several languages weighs
    the IDF of its most common form in the knowledge base: its other stems, found nowhere,
    would otherwise weigh most and leave every passage short of coverage.

    One statement per term counts the chunks containing it (its IDF) and picks the given rows
    among them: ~2 ms for 40 rows and a 5-term query at 100k chunks, against ~9 ms for the
    BM25 search itself. (``+rowid`` keeps SQLite from running one FTS5 lookup per row.)
    """
    if not words or not rowids:
        return {}
    chunks = int(reader.execute(f"SELECT count(*) FROM ids_{kb_id}").fetchone()[0])
    wanted = ",".join(str(int(r)) for r in rowids)
    found: dict[int, dict[str, None]] = {r: {} for r in rowids}  # the words, in query order
    weights: dict[str, float] = {}
    for word in words:
        most = 0
        for term in word.terms:
            containing, rows = reader.execute(
                f"SELECT count(*), group_concat(CASE WHEN +rowid IN ({wanted}) THEN rowid END)"
                f" FROM fts_{kb_id} WHERE fts_{kb_id} MATCH ?",
                [f'"{term}"'],
            ).fetchone()
            most = max(most, int(containing))
            for rowid in rows.split(",") if rows else ():
                found[int(rowid)][word.word] = None
        weights[word.word] = _idf(chunks, most)
    total = sum(weights.values())
    return {
        r: (tuple(by_word), sum(weights[w] for w in by_word) / total)
        for r, by_word in found.items()
    }


def _idf(chunks: int, containing: int) -> float:
    """BM25's inverse document frequency, in the form that stays positive (Lucene's): a term
    found nowhere weighs most, one in every chunk next to nothing."""
    return math.log(1 + (chunks - containing + 0.5) / (containing + 0.5))


def _dropped(exc: sqlite3.OperationalError) -> bool:
    """Whether a read failed because its knowledge base's tables were dropped meanwhile."""
    return "no such table" in str(exc)


def analysed_rows(chunks: Sequence[Chunk], fallback: str | None) -> list[tuple[str | None, ...]]:
    """Each chunk's row without its rowid: ids, media type, language (its own, its document's
    or ``fallback``), title and text as stored, then their terms."""
    texts = [_index_text(c) for c in chunks]
    languages = chunk_languages(
        [(c.document_id, f"{c.title}\n{t}") for c, t in zip(chunks, texts, strict=True)],
        fallback,
    )
    return [
        (c.id, c.document_id, c.version, c.media_type, lang, c.title, text,
         index_terms(c.title, lang), index_terms(text, lang))
        for c, text, lang in zip(chunks, texts, languages, strict=True)
    ]  # fmt: skip


def _index_text(chunk: Chunk) -> str:
    """What is indexed for a chunk: its section heading (searchable) above its text."""
    return f"{chunk.section}\n{chunk.text}" if chunk.section else chunk.text


def _chunk_text(indexed: str, section: str | None) -> str:
    """The chunk text ``_index_text`` stored as ``indexed``."""
    heading = f"{section}\n" if section else ""
    return indexed[len(heading) :] if heading and indexed.startswith(heading) else indexed
