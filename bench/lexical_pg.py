"""Lexical search on PostgreSQL against SQLite FTS5's BM25, on the evaluation collections.

Every passage of each BEIR collection (``data/eval/*``, and the shared MS MARCO sample when
``../shared/data/beir/msmarco`` exists) is indexed as one chunk, by each index:

- ``fts5-bm25``: the embedded default (``kb.index.lexical.SqliteLexicalIndex``);
- ``pg-kb``: ``kb.index.lexical_pg.PostgresLexicalIndex``, the one the distributed setup uses
  (the same Python analysis, a ``tsvector`` with a GIN index, IDF-weighted ``ts_rank``);
- ``pg-native``: PostgreSQL's own analysis, for comparison: each chunk in the text search
  configuration of its language (``french``, ``english``, else ``simple``) over ``unaccent``,
  the query read in the collection's configuration (OR of its words), ranked by
  ``ts_rank_cd`` (cover density, no IDF) -- what "a tsvector column" usually means.

Each judged query is searched (top 100); nDCG@10, Recall@100 and MRR@10 are computed by
``engine.evaluation`` as ``kb eval`` does, with the mean search time (one process, warm).
``--scale N`` instead copies the MS MARCO sample's passages to N chunks (new ids) and prints
each index's search latency over its 43 queries. A throwaway PostgreSQL 15 is started on
127.0.0.1 (``tests.support.postgres_server``).

    .venv/bin/python bench/lexical_pg.py [--collections usrshare-en,manpages-fr]
    .venv/bin/python bench/lexical_pg.py --scale 100000
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.evaluation import BeirCollection, evaluate, load_beir  # noqa: E402
from kb.db.engine import make_engine  # noqa: E402
from kb.index.lexical import SqliteLexicalIndex, analysed_rows  # noqa: E402
from kb.index.lexical_pg import PostgresLexicalIndex  # noqa: E402
from kb.models import Chunk  # noqa: E402
from kb.text.analysis import words  # noqa: E402
from tests.support.postgres_server import postgres  # noqa: E402

COLLECTIONS = ["usrshare-en", "debian-reference-fr", "manpages-fr", "crosslingual"]
MSMARCO = REPO.parent / "shared" / "data" / "beir" / "msmarco"
NATIVE = {"fr": "french", "en": "english"}
Search = Callable[[str], list[str]]


def _chunks(collection: BeirCollection) -> list[Chunk]:
    """One chunk per passage, its document the passage id."""
    return [
        Chunk(
            id=f"{row['_id']}:v1:0", kb_id="kb_eval", document_id=row["_id"], version="v1",
            index=0, text=row["text"], title=row["title"] or "", source=row["_id"],
            media_type="text/plain", start_char=0, end_char=len(row["text"]),
        )
        for row in collection.corpus
    ]  # fmt: skip


def _ranked(hits: Sequence[object]) -> list[str]:
    return list(dict.fromkeys(h.document_id for h in hits))  # type: ignore[attr-defined]


def _native(engine: Engine, chunks: list[Chunk]) -> Search:
    """PostgreSQL's own analysis and ranking (module docstring)."""
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
        connection.exec_driver_sql(
            "CREATE TABLE native (id TEXT PRIMARY KEY, config regconfig, terms tsvector)"
        )
        connection.exec_driver_sql("CREATE INDEX native_terms ON native USING gin (terms)")
        rows = analysed_rows(chunks, None)
        params = [
            {"id": r[1], "config": NATIVE.get(r[4] or "", "simple"), "title": r[5], "body": r[6]}
            for r in rows
        ]
        connection.execute(
            text(
                "INSERT INTO native VALUES (:id, CAST(:config AS regconfig),"
                " setweight(to_tsvector(CAST(:config AS regconfig), unaccent(:title)), 'A')"
                " || setweight(to_tsvector(CAST(:config AS regconfig), unaccent(:body)), 'B'))"
            ),
            params,
        )
        main = connection.execute(
            text("SELECT config::text, count(*) AS n FROM native GROUP BY 1 ORDER BY n DESC")
        ).first()
    config = main[0] if main else "simple"

    def search(query: str) -> list[str]:
        terms = " | ".join(f"'{w}'" for w in dict.fromkeys(words(query)))
        if not terms:
            return []
        with engine.connect() as connection:
            found = connection.execute(
                text(
                    "SELECT id, ts_rank_cd(terms, q) AS s FROM native,"
                    " to_tsquery(CAST(:config AS regconfig), unaccent(:q)) AS q"
                    " WHERE terms @@ q ORDER BY s DESC, id LIMIT 100"
                ),
                {"config": config, "q": terms},
            )
            return [row[0] for row in found]

    return search


def _measure(collection: BeirCollection, search: Search) -> dict[str, float]:
    times: list[float] = []

    def timed(query: str) -> list[str]:
        started = time.perf_counter()
        try:
            return search(query)
        finally:
            times.append(time.perf_counter() - started)

    metrics = evaluate(collection, timed)
    return {**metrics, "ms": 1000 * statistics.mean(times)}


def _run(name: str, folder: Path, engine: Engine, workdir: Path) -> dict[str, dict[str, float]]:
    collection = load_beir(folder)
    chunks = _chunks(collection)
    fts = SqliteLexicalIndex(workdir / f"{name}.sqlite3")
    pg = PostgresLexicalIndex(engine)
    for index in (fts, pg):
        for start in range(0, len(chunks), 500):
            index.add("kb_eval", chunks[start : start + 500])
    with engine.begin() as connection:  # the statistics autovacuum would gather meanwhile
        connection.exec_driver_sql("ANALYZE")
    try:
        return {
            "fts5-bm25": _measure(collection, lambda q: _ranked(fts.search("kb_eval", q, 100))),
            "pg-kb": _measure(collection, lambda q: _ranked(pg.search("kb_eval", q, 100))),
            "pg-native": _measure(collection, _native(engine, chunks)),
        }
    finally:
        fts.close()


def _scale(size: int) -> None:
    """Search latency of both indexes at ``size`` chunks (module docstring)."""
    collection = load_beir(MSMARCO)
    passages = _chunks(collection)
    chunks = [
        dataclasses.replace(c, id=f"{c.document_id}-{r}:v1:0", document_id=f"{c.document_id}-{r}")
        for r in range(max(1, size // len(passages)))
        for c in passages
    ]
    queries = [q for _, q in collection.judged_queries()]
    print("| index | chunks | indexing s | search p50 ms | p90 ms | max ms |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="kb-lexical-pg-") as tmp, postgres(Path(tmp)) as server:
        engine = make_engine(server.create_database())
        indexes = {
            "fts5-bm25": SqliteLexicalIndex(Path(tmp) / "lexical.sqlite3"),
            "pg-kb": PostgresLexicalIndex(engine),
        }
        for name, index in indexes.items():
            started = time.perf_counter()
            for start in range(0, len(chunks), 2000):
                index.add("kb_scale", chunks[start : start + 2000])
            indexing = time.perf_counter() - started
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
            index.search("kb_scale", queries[0], 100)  # warm
            times = []
            for query in queries:
                started = time.perf_counter()
                index.search("kb_scale", query, 100)
                times.append(1000 * (time.perf_counter() - started))
            times.sort()
            p50, p90 = times[len(times) // 2], times[int(0.9 * len(times))]
            row = [name, len(chunks), f"{indexing:.0f}", f"{p50:.1f}", f"{p90:.1f}"]
            print(f"| {' | '.join(map(str, row))} | {times[-1]:.1f} |", flush=True)
        indexes["fts5-bm25"].close()
        engine.dispose()


def main() -> None:
    """Print one table: each collection, each index, the metrics."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--collections", default=",".join(COLLECTIONS))
    parser.add_argument("--scale", type=int, help="Time searches at this many chunks instead")
    args = parser.parse_args()
    if args.scale:
        _scale(args.scale)
        return
    folders = {name: REPO / "data" / "eval" / name for name in args.collections.split(",")}
    if MSMARCO.exists() and "--collections" not in sys.argv:
        folders["msmarco (5,000)"] = MSMARCO
    print("| collection | passages | queries | index | nDCG@10 | Recall@100 | MRR@10 | ms/query |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="kb-lexical-pg-") as tmp, postgres(Path(tmp)) as server:
        for name, folder in folders.items():
            url = server.create_database()
            engine = make_engine(url)
            collection = load_beir(folder)
            try:
                results = _run(name.split()[0], folder, engine, Path(tmp))
            finally:
                engine.dispose()
                server.drop_database(url)
            for index, values in results.items():
                print(
                    f"| {name} | {len(collection.corpus)} | {len(collection.judged_queries())}"
                    f" | {index} | {values['ndcg@10']:.3f} | {values['recall@100']:.3f}"
                    f" | {values['mrr@10']:.3f} | {values['ms']:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
