"""Time ingesting the shared MS MARCO sample and answering one question; print the figures.

Usage: .venv/bin/python bench/ingest_and_ask.py [--limit N] [--corpus PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.container import build_container  # noqa: E402
from engine.question import Question  # noqa: E402
from engine.retrieval.retriever import SearchRequest  # noqa: E402
from ingest.sources import RawSource  # noqa: E402
from kb.settings import Settings  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "beir" / "msmarco"
QUESTION = "who invented the mercury thermometer"


def main() -> None:
    """Ingest, ask, and print timings."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=0, help="Passages to ingest (0: all).")
    args = parser.parse_args()
    corpus = args.corpus / "corpus.jsonl"
    if not corpus.exists():
        sys.exit(f"skipped: {corpus} is absent (the shared data sets live beside the repo)")
    rows = [json.loads(line) for line in corpus.open()]
    if args.limit:
        rows = rows[: args.limit]

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            storage={"data_dir": Path(tmp)}, embedding={"cache_dir": REPO / "data" / "models"}
        )
        container = build_container(settings)
        t0 = time.perf_counter()
        container.embedder.embed(["load"])
        load_s = time.perf_counter() - t0
        kb = container.catalog.create_kb("bench")
        raws = [
            RawSource(
                r["text"].encode(), source=f"msmarco:{r['_id']}", title=r.get("title") or None
            )
            for r in rows
        ]
        t0 = time.perf_counter()
        results = container.ingestion.ingest_many(kb.id, raws)
        ingest_s = time.perf_counter() - t0
        chunks = container.catalog.get_kb(kb.id).chunk_count
        failed = sum(1 for r in results if isinstance(r, Exception))

        t0 = time.perf_counter()
        again = container.ingestion.ingest_many(kb.id, raws)
        reingest_s = time.perf_counter() - t0
        unchanged = sum(1 for r in again if getattr(r, "outcome", "") == "unchanged")

        latencies = []
        for _ in range(20):
            t0 = time.perf_counter()
            container.retriever.search(kb.id, SearchRequest(QUESTION, top_k=5))
            latencies.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        answer = container.queries.answer(Question(kb.id, QUESTION))
        answer_s = time.perf_counter() - t0
        container.close()

    print(f"embedding model load      {load_s:8.2f} s")
    print(f"documents ingested        {len(rows) - failed:8d}  ({failed} failed)")
    print(f"chunks stored             {chunks:8d}")
    print(f"ingest time               {ingest_s:8.2f} s")
    rate = f"{len(rows) / ingest_s:8.1f} docs/s  {chunks / ingest_s:.1f} chunks/s"
    print(f"ingest throughput         {rate}")
    print(f"re-ingest (unchanged)     {reingest_s:8.2f} s  ({unchanged} unchanged)")
    print(f"search p50 (in-process)   {statistics.median(latencies) * 1000:8.1f} ms")
    print(f"answer (extractive)       {answer_s * 1000:8.1f} ms")
    print(f"question: {QUESTION}")
    print(f"answer:   {answer.answer[:300]}")
    print(f"grounded: {answer.grounded}; cited: {[c.source for c in answer.citations]}")


if __name__ == "__main__":
    main()
