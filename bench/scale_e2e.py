"""search_scale.py's end-to-end part: a hybrid search at 100k chunks through the whole retriever
(question embedded, dense + lexical candidates, fusion, texts fetched), embedded (SQLite +
FTS5 + embedded Chroma) against distributed (PostgreSQL registry and lexical index + a Chroma
server), both built by ``api.container.build_container`` from settings alone.

The knowledge bases are ``perf_corpus.build_kb``'s: the 5,000 MS MARCO passages embedded once
with the bundled MiniLM, then 100k chunks generated from them (halves of two passages, their
vectors' mean plus small noise), written straight into each setup's store, lexical index and
registry. PostgreSQL is a throwaway server (``tests/support/postgres_server.py``: fsync off,
which changes writes, not these reads); Chroma is ``chroma run``; both on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from perf_corpus import build_kb

from api.container import build_container
from engine.retrieval.retriever import SearchRequest
from kb.db.engine import make_engine
from kb.db.migrate import upgrade
from kb.settings import Settings
from tests.support.chroma_server import chroma
from tests.support.postgres_server import available, postgres

REPO = Path(__file__).resolve().parents[1]
MODEL = "bundled:all-MiniLM-L6-v2"


def _settings(data_dir: Path, **storage: Any) -> Settings:
    settings = Settings(
        storage={"data_dir": data_dir, **storage},
        embedding={"model": MODEL, "cache_dir": REPO / "data" / "models"},
    )
    return settings


def _passage_vectors(embedder: Any, passages: list[str]) -> np.ndarray:
    """The passages' MiniLM vectors, embedded once and kept in the git-ignored data/bench/."""
    digest = hashlib.sha256("\0".join(passages).encode()).hexdigest()[:12]
    cache = (
        REPO / "data" / "bench" / f"msmarco-{embedder.fingerprint.replace(':', '-')}-{digest}.npy"
    )
    if cache.exists():
        return np.load(cache)
    started = time.perf_counter()
    vectors = np.array(embedder.embed(passages), dtype=np.float64)
    print(f"\n{len(passages)} passages embedded in {time.perf_counter() - started:.0f} s")
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def _measure(container: Any, kb_id: str, queries: list[str], count: int, label: str) -> None:
    """p50/p99 of a hybrid search and of its lexical part alone, one at a time."""
    from search_scale import summary, timed

    cycle = iter(range(10**9))

    def search() -> None:
        q = queries[next(cycle) % len(queries)]
        container.retriever.search(kb_id, SearchRequest(query=q, top_k=5, mode="hybrid"))

    print(summary(f"{label}: hybrid search top 5", timed(search, count)), flush=True)

    def lexical() -> None:
        container.lexical.search(kb_id, queries[next(cycle) % len(queries)], 40)

    print(summary(f"{label}: lexical index k=40", timed(lexical, count)), flush=True)

    def dense() -> None:
        vector = container.embedder.embed([queries[next(cycle) % len(queries)]], kind="query")[0]
        container.store.query(kb_id, vector, 40)

    print(summary(f"{label}: question embedded + dense k=40", timed(dense, count)), flush=True)


def run(passages: list[str], queries: list[str], size: int, count: int) -> None:
    """Build the 100k-chunk knowledge base in both setups and time searches in each."""
    print("\nend to end: hybrid search through the retriever")
    with tempfile.TemporaryDirectory(prefix="kb-e2e-") as tmp_name:
        tmp = Path(tmp_name)
        embedded = build_container(_settings(tmp / "embedded"))
        vectors = _passage_vectors(embedded.embedder, passages)
        try:
            started = time.perf_counter()
            kb_id = build_kb(embedded, "scale", size, passages, vectors)
            print(f"embedded: {size} chunks built in {time.perf_counter() - started:.0f} s")
            _measure(embedded, kb_id, queries, count, "embedded (SQLite, FTS5, Chroma)")
            if not available():
                print("PostgreSQL binaries missing: the distributed row is skipped")
                return
            _distributed(tmp, embedded.embedder, passages, vectors, queries, size, count)
        finally:
            embedded.close()


def _distributed(
    tmp: Path,
    embedder: Any,
    passages: list[str],
    vectors: np.ndarray,
    queries: list[str],
    size: int,
    count: int,
) -> None:
    """The same knowledge base and searches on PostgreSQL + a Chroma server."""
    with postgres(tmp / "pg") as pg, chroma(tmp / "chroma") as server:
        url = pg.create_database()
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        settings = _settings(tmp / "distributed", database_url=url)
        settings.store.chroma_host, settings.store.chroma_port = server.host, server.port
        distributed = build_container(settings, embedder=embedder)
        try:
            started = time.perf_counter()
            kb_id = build_kb(distributed, "scale", size, passages, vectors)
            print(f"distributed: {size} chunks built in {time.perf_counter() - started:.0f} s")
            label = "distributed (PostgreSQL, Chroma server)"
            _measure(distributed, kb_id, queries, count, label)
        finally:
            distributed.close()
