"""The lexical index on PostgreSQL: full-text search over a ``tsvector`` column with a GIN index.

Used when the registry is on PostgreSQL (the distributed setup: every replica and worker reads
and writes the same index), with the interface of the FTS5 index (``kb.index.lexical``) and
the same language-aware analysis: each chunk's terms are folded (case, diacritics) and stemmed
with its detected language's Snowball stemmer by ``kb.text``, in Python, and stored as a
``tsvector`` with PostgreSQL's ``simple`` configuration (which only splits and lower-cases).
PostgreSQL's own ``french`` or ``english`` configurations run the same Snowball stemmers, but
analysing here keeps one analyzer for both indexes, reads a query in several languages at once
(its own and the knowledge base's main ones), covers every language ``kb.text`` stems, and
needs no ``unaccent`` extension (a managed PostgreSQL may not allow it).

Ranking is Okapi BM25, computed in SQL over the chunks the GIN index matches (k1 1.2, b 0.75,
as FTS5's): each query word weighs its IDF in the knowledge base, its frequency in a chunk is
read from the ``tsvector``'s positions (a title occurrence counting twice, as FTS5's column
weights do), normalised by the chunk's length in terms (a column of its own). The GIN index
also covers ``kb_id`` when the ``btree_gin`` extension can be created, so a search reads one
knowledge base's postings.

The table is this index's own, not a registry table: like the FTS5 file it is derived data,
created when first opened and rebuilt from its stored texts when the analyzer changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine

from kb.index.lexical import ANALYZER_VERSION, LexicalHit, _chunk_text, analysed_rows
from kb.models import Chunk
from kb.text import index_terms, query_languages, query_terms
from kb.text.analysis import QueryWord

logger = logging.getLogger(__name__)

TABLE = "lexical_chunks"
# Any session holding this advisory lock is creating or rebuilding the table.
_LOCK = 0x6B62_6C78
# BM25's parameters, as FTS5's: term frequency saturation and length normalisation.
K1, B = 1.2, 0.75
# Matches ranked by BM25 proper: the best of them by a cheaper rank (``_bm25``), at least this
# many and four times those asked for; every evaluation collection's nDCG@10 is then exact
# BM25's (bench/lexical_pg.py).
RERANK_DEPTH = 300
# How long a knowledge base's chunk count, mean length and languages are reused (other
# replicas' writes are seen after this long; this process's at once).
STATS_TTL_S = 10.0
_TERMS = (
    "setweight(to_tsvector('simple', :title_terms), 'A')"
    " || setweight(to_tsvector('simple', :body_terms), 'B')"
)
# Each query word's frequency in a chunk (``tf{i}``), from one pass over the chunk's lexemes
# that are query terms: their positions, a title's (weight A) counting twice.
_TF = (
    "SELECT {sums} FROM (SELECT t.lexeme, (CASE WHEN 'A' = ANY(t.weights) THEN 2 ELSE 1 END)"
    " * array_length(t.positions, 1) AS n FROM unnest(top.terms) AS t"
    " WHERE t.lexeme = ANY(:stems)) AS found"
)
_TF_SUM = "coalesce(sum(n) FILTER (WHERE lexeme = ANY(:s{i})), 0)::float8 AS tf{i}"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    kb_id VARCHAR(64) NOT NULL,
    chunk_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    version TEXT NOT NULL,
    media_type TEXT NOT NULL,
    language VARCHAR(16),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    terms TSVECTOR NOT NULL,
    length INTEGER NOT NULL,
    PRIMARY KEY (kb_id, chunk_id)
);
CREATE INDEX IF NOT EXISTS {TABLE}_document ON {TABLE} (kb_id, document_id, version);
CREATE TABLE IF NOT EXISTS {TABLE}_meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL);
"""
_UPSERT = f"""
INSERT INTO {TABLE} (kb_id, chunk_id, document_id, version, media_type, language, title, body,
                     terms, length)
VALUES (:kb_id, :chunk_id, :document_id, :version, :media_type, :language, :title, :body,
        {_TERMS}, :length)
ON CONFLICT (kb_id, chunk_id) DO UPDATE SET document_id = EXCLUDED.document_id,
    version = EXCLUDED.version, media_type = EXCLUDED.media_type,
    language = EXCLUDED.language, title = EXCLUDED.title, body = EXCLUDED.body,
    terms = EXCLUDED.terms, length = EXCLUDED.length
"""


@dataclass
class _Stats:
    at: float
    chunks: int
    mean_length: float
    languages: list[tuple[str, float]]


class PostgresLexicalIndex:
    """BM25 keyword search in one PostgreSQL table shared by every knowledge base."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._stats: dict[str, _Stats] = {}
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK})
            connection.exec_driver_sql(_SCHEMA)
            self._create_gin_index(connection)
            self._upgrade(connection)

    @staticmethod
    def _create_gin_index(connection: Connection) -> None:
        """GIN over (kb_id, terms) with ``btree_gin``, else over terms alone."""
        present = connection.execute(
            text("SELECT 1 FROM pg_indexes WHERE indexname = :name"), {"name": f"{TABLE}_terms"}
        ).first()
        if present:
            return
        try:
            with connection.begin_nested():
                connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS btree_gin")
            columns = "kb_id, terms"
        except Exception:  # not installed, or not ours to create: the plain index
            logger.info("btree_gin unavailable: the lexical GIN index covers terms only")
            columns = "terms"
        connection.exec_driver_sql(f"CREATE INDEX {TABLE}_terms ON {TABLE} USING gin ({columns})")

    def _upgrade(self, connection: Connection) -> None:
        """Re-analyse every stored chunk when the analyzer changed since it was indexed."""
        key = {"key": "analyzer_version"}
        found = connection.execute(
            text(f"SELECT value FROM {TABLE}_meta WHERE key = :key"), key
        ).scalar()
        if found == str(ANALYZER_VERSION):
            return
        if found is not None:
            logger.info("rebuilding the PostgreSQL lexical index (analyzer %s)", ANALYZER_VERSION)
            self._reanalyse(connection)
        connection.execute(
            text(
                f"INSERT INTO {TABLE}_meta (key, value) VALUES (:key, :value)"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ),
            {**key, "value": str(ANALYZER_VERSION)},
        )

    def _reanalyse(self, connection: Connection) -> None:
        rows = connection.execute(
            text(f"SELECT kb_id, chunk_id, title, body, language FROM {TABLE}")
        ).all()
        update = text(
            f"UPDATE {TABLE} SET terms = {_TERMS}, length = :length"
            " WHERE kb_id = :kb AND chunk_id = :id"
        )
        params = [
            {"kb": kb, "id": chunk, **_terms(index_terms(title, lang), index_terms(body, lang))}
            for kb, chunk, title, body, lang in rows
        ]
        for start in range(0, len(params), 500):
            connection.execute(update, params[start : start + 500])

    def close(self) -> None:
        """Nothing of its own to release: the engine is the registry's."""

    # -- writes ------------------------------------------------------------------------------

    def add(self, kb_id: str, chunks: Sequence[Chunk]) -> None:
        """Index chunks (replacing any with the same id)."""
        if not chunks:
            return
        main = self.languages(kb_id)
        rows = analysed_rows(chunks, main[0][0] if main else None)
        params = [
            {
                "kb_id": kb_id,
                "chunk_id": r[0],
                "document_id": r[1],
                "version": r[2],
                "media_type": r[3],
                "language": r[4],
                "title": r[5] or "",
                "body": r[6],
                **_terms(r[7] or "", r[8] or ""),
            }
            for r in rows
        ]
        with self._engine.begin() as connection:
            for start in range(0, len(params), 500):
                connection.execute(text(_UPSERT), params[start : start + 500])
        self._stats.pop(kb_id, None)

    def _delete(self, kb_id: str, where: str = "", **params: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(
                text(f"DELETE FROM {TABLE} WHERE kb_id = :kb_id{where}"), {"kb_id": kb_id, **params}
            )
        self._stats.pop(kb_id, None)

    def delete_document(
        self, kb_id: str, document_id: str, keep_version: str | None = None
    ) -> None:
        """Remove a document's chunks, sparing ``keep_version`` when given."""
        if keep_version is None:
            self._delete(kb_id, " AND document_id = :doc", doc=document_id)
        else:
            where = " AND document_id = :doc AND version != :keep"
            self._delete(kb_id, where, doc=document_id, keep=keep_version)

    def delete_version(self, kb_id: str, document_id: str, version: str) -> None:
        """Remove one version of a document's chunks."""
        self._delete(kb_id, " AND document_id = :doc AND version = :v", doc=document_id, v=version)

    def drop(self, kb_id: str) -> None:
        """Remove a knowledge base's index."""
        self._delete(kb_id)

    def remove_stray_files(self, dry_run: bool = False) -> int:
        """None to remove: the index is rows of one table."""
        return 0

    # -- reads -------------------------------------------------------------------------------

    def kb_ids(self) -> set[str]:
        """The knowledge bases that have chunks here."""
        with self._engine.connect() as connection:
            return set(connection.execute(text(f"SELECT DISTINCT kb_id FROM {TABLE}")).scalars())

    def versions(self, kb_id: str) -> dict[tuple[str, str], int]:
        """How many chunks each (document, version) has in the knowledge base's index."""
        with self._engine.connect() as connection:
            rows = connection.execute(
                text(
                    f"SELECT document_id, version, count(*) FROM {TABLE} WHERE kb_id = :kb"
                    " GROUP BY document_id, version"
                ),
                {"kb": kb_id},
            ).all()
        return {(doc, version): int(n) for doc, version, n in rows}

    def count(self, kb_id: str) -> int:
        """Number of indexed chunks."""
        with self._engine.connect() as connection:
            found = connection.execute(
                text(f"SELECT count(*) FROM {TABLE} WHERE kb_id = :kb"), {"kb": kb_id}
            ).scalar()
        return int(found or 0)

    def languages(self, kb_id: str) -> list[tuple[str, float]]:
        """The knowledge base's chunk languages with their share of its chunks, most first."""
        return self._kb_stats(kb_id).languages

    def _kb_stats(self, kb_id: str) -> _Stats:
        cached = self._stats.get(kb_id)
        if cached is not None and time.monotonic() - cached.at < STATS_TTL_S:
            return cached
        with self._engine.connect() as connection:
            rows = connection.execute(
                text(
                    f"SELECT language, count(*) AS n, sum(length) FROM {TABLE} WHERE kb_id = :kb"
                    " GROUP BY language ORDER BY n DESC"
                ),
                {"kb": kb_id},
            ).all()
        chunks = sum(int(n) for _, n, _ in rows)
        mean = sum(int(length or 0) for _, _, length in rows) / chunks if chunks else 0.0
        known = [(str(code), int(n)) for code, n, _ in rows if code is not None]
        total = sum(n for _, n in known)
        shares = [(code, n / total) for code, n in known]
        stats = _Stats(time.monotonic(), chunks, mean or 1.0, shares)
        self._stats[kb_id] = stats
        return stats

    def chunk_texts(self, kb_id: str, sections: Mapping[str, str | None]) -> dict[str, str]:
        """The texts of the chunks ``sections`` names (id -> the chunk's section heading, kept
        in front of the text); chunks not indexed are left out."""
        ids = list(sections)
        if not ids:
            return {}
        query = text(
            f"SELECT chunk_id, body FROM {TABLE} WHERE kb_id = :kb AND chunk_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True))
        found: dict[str, str] = {}
        with self._engine.connect() as connection:
            for start in range(0, len(ids), 500):
                rows = connection.execute(query, {"kb": kb_id, "ids": ids[start : start + 500]})
                found.update((chunk, _chunk_text(body, sections[chunk])) for chunk, body in rows)
        return found

    def search(
        self,
        kb_id: str,
        query: str,
        k: int,
        document_ids: Sequence[str] | None = None,
        media_types: Sequence[str] | None = None,
    ) -> list[LexicalHit]:
        """Best matches first; any query word may match, rarer words weigh more (IDF). The
        query is read in its own language and in the knowledge base's main ones; each hit says
        which of its content words it contains (``matched``, ``coverage``)."""
        if document_ids == [] or not query.strip():
            return []
        stats = self._kb_stats(kb_id)
        if not stats.chunks:
            return []
        words = [w for w in query_terms(query, query_languages(query, stats.languages)) if w.terms]
        if not words:
            return []
        params: dict[str, object] = {"kb": kb_id, "any": _tsquery(words), "k": k}
        for i, word in enumerate(words):
            params[f"w{i}"], params[f"s{i}"] = _tsquery([word]), list(word.terms)
        params["depth"] = max(RERANK_DEPTH, 4 * k)
        params["stems"] = list(dict.fromkeys(t for w in words for t in w.terms))
        params["chunks"] = stats.chunks
        filters = _filters(document_ids, media_types, params)
        with self._engine.connect() as connection:
            rows = connection.execute(text(_bm25(len(words), stats, filters)), params).all()
        hits = []
        for row in rows:
            idf = [float(v) for v in row[4 : 4 + len(words)]]
            found = [i for i, flag in enumerate(row[4 + len(words) :]) if flag]
            coverage = sum(idf[i] for i in found) / (sum(idf) or 1.0)
            matched = tuple(words[i].word for i in found)
            hits.append(LexicalHit(row[0], row[1], row[2], float(row[3]), matched, coverage))
        return hits


def _bm25(n_words: int, stats: _Stats, filters: str) -> str:
    """One statement: the chunks the GIN index matches and which words each holds, each word's
    IDF over the whole knowledge base (the filters choose hits, not weights), the ``:depth``
    best by IDF-weighted ``ts_rank`` (cheap, in C), and among those the best ``:k`` by BM25
    (the words' frequencies read from the chunks' lexemes, which costs more)."""
    each = range(n_words)
    holds = ", ".join(f"terms @@ to_tsquery('simple', :w{i}) AS h{i}" for i in each)
    counts = ", ".join(f"count(*) FILTER (WHERE h{i}) AS n{i}" for i in each)
    idfs = ", ".join(
        f"ln(1 + (greatest(:chunks, n{i}) - n{i} + 0.5) / (n{i} + 0.5))::float8 AS idf{i}"
        for i in each
    )
    rough = " + ".join(f"w.idf{i} * ts_rank(terms, to_tsquery('simple', :w{i}), 1)" for i in each)
    sums = ", ".join(_TF_SUM.format(i=i) for i in each)
    # float8 throughout: PostgreSQL's numeric arithmetic took two thirds of a search's time.
    norm = f"{K1 * (1 - B)!r}::float8 + {K1 * B / stats.mean_length!r}::float8 * top.length"
    score = " + ".join(
        f"w.idf{i} * tf.tf{i} * {K1 + 1!r}::float8 / (tf.tf{i} + {norm})" for i in each
    )
    weights = ", ".join(f"w.idf{i}" for i in each)
    flags = ", ".join(f"top.h{i}" for i in each)
    return (
        f"WITH m AS MATERIALIZED (SELECT chunk_id, document_id, version, media_type, length,"
        f" terms, {holds} FROM {TABLE}"
        " WHERE kb_id = :kb AND terms @@ to_tsquery('simple', :any)),"
        f" n AS (SELECT {counts} FROM m), w AS MATERIALIZED (SELECT {idfs} FROM n),"
        f" top AS (SELECT m.* FROM m, w WHERE TRUE{filters} ORDER BY {rough} DESC LIMIT :depth)"
        f" SELECT top.chunk_id, top.document_id, top.version, {score} AS score, {weights},"
        f" {flags} FROM top, w, LATERAL ({_TF.format(sums=sums)}) AS tf"
        " ORDER BY score DESC, top.chunk_id LIMIT :k"
    )


def _terms(title_terms: str, body_terms: str) -> dict[str, object]:
    """A chunk's analysed title and body, and its length in terms (BM25's document length)."""
    length = len(title_terms.split()) + len(body_terms.split())
    return {"title_terms": title_terms, "body_terms": body_terms, "length": length}


def _tsquery(words: Sequence[QueryWord]) -> str:
    """A ``to_tsquery`` text matching any term of ``words``; each term is quoted (terms are
    letters and digits only), so no operator in user input reaches the parser."""
    terms = dict.fromkeys(t for w in words for t in w.terms if t)
    return " | ".join(f"'{t}'" for t in terms)


def _filters(
    document_ids: Sequence[str] | None,
    media_types: Sequence[str] | None,
    params: dict[str, object],
) -> str:
    """SQL restricting a search to documents and media types (their values into ``params``)."""
    where = ""
    if document_ids is not None:
        where += " AND document_id = ANY(:documents)"
        params["documents"] = list(document_ids)
    if media_types:
        where += " AND media_type = ANY(:media_types)"
        params["media_types"] = list(media_types)
    return where
