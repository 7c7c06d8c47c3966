"""The relevance floor on the shared MS MARCO sample: what it keeps for answerable questions and
what it lets through for off-topic ones, judged by cosine alone (the old rule) against cosine or
lexical evidence (``engine.retrieval.relevance``) at several term-coverage floors, exact
identifier matches ranked first in hybrid mode.

``kb eval`` switches the floor off to compare rankings; this measures the floor itself, at the
server's defaults otherwise (top 10, ``KB_RETRIEVAL__MIN_SCORE``, ``KB_RETRIEVAL__CANDIDATES``).

- answerable: all 5,000 passages, the 43 judged queries; nDCG@10 of what passes the floor, and
  how many questions get no passage at all (the answer would be "not in the knowledge base").
- off-topic: a knowledge base of only the passages relevant to every other judged query; each
  of the remaining queries is asked of it (its own relevant passages are absent); how many
  get any passage, and how many passages on average.
- identifiers: up to 50 identifiers (``is_distinctive``) that occur in exactly one passage of
  the collection, each asked alone ("150726") and in a question ("What is the status of
  150726?"); how many find their passage in the top 10.

Usage: .venv/bin/python bench/relevance_floor.py [--coverage 0.6,0.75,1] [--modes ...]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach a hub
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.container import Container, build_container  # noqa: E402
from engine.evaluation import BeirCollection, load_beir, ndcg_at  # noqa: E402
from engine.retrieval import relevance, retriever  # noqa: E402
from engine.retrieval.retriever import RetrievalConfig, Retriever, SearchRequest  # noqa: E402
from ingest.sources import RawSource  # noqa: E402
from kb.settings import Settings  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "beir" / "msmarco"
TOP_K = 10
IDENTIFIERS = 50
IN_A_QUESTION = "What is the status of {}?"


def unique_identifiers(collection: BeirCollection, count: int) -> list[tuple[str, str]]:
    """(identifier, corpus id) for identifiers found in one passage only, spread evenly."""
    where: dict[str, set[str]] = {}
    for row in collection.corpus:
        for token in re.findall(r"\w+", f"{row['title']} {row['text']}".lower()):
            if relevance.is_distinctive(token):
                where.setdefault(token, set()).add(row["_id"])
    unique = sorted((token, next(iter(ids))) for token, ids in where.items() if len(ids) == 1)
    step = max(len(unique) // count, 1)
    return unique[::step][:count]


def ingest(container: Container, name: str, rows: list[dict[str, str]]) -> str:
    """A knowledge base holding ``rows`` (BEIR corpus rows), one document each."""
    kb_id = container.catalog.create_kb(name).id
    raws = (
        RawSource(row["text"].encode(), source=f"beir:{row['_id']}", title=row["title"] or None,
                  declared_type="text/plain")
        for row in rows
    )  # fmt: skip
    container.ingestion.ingest_many(kb_id, raws)
    return kb_id


@contextmanager
def cosine_only() -> Iterator[None]:
    """The old rules: no BM25 hit is relevant on its lexical evidence, only by its cosine, and
    hybrid mode ranks exact identifier matches by fusion alone."""
    original, bonus = relevance.RelevanceFloor.vouched_by_lexical, retriever._EXACT_MATCH_BONUS
    relevance.RelevanceFloor.vouched_by_lexical = lambda self, hit: False  # type: ignore[method-assign,assignment]
    retriever._EXACT_MATCH_BONUS = 0.0
    try:
        yield
    finally:
        relevance.RelevanceFloor.vouched_by_lexical = original  # type: ignore[method-assign]
        retriever._EXACT_MATCH_BONUS = bonus


def searcher(
    container: Container, kb_id: str, mode: str, coverage: float
) -> Callable[[str], list[str]]:
    """Query -> corpus ids of the passages that pass the floor, best first."""
    settings = container.settings.retrieval
    config = RetrievalConfig(
        mode=mode, fusion=settings.fusion, dense_weight=settings.dense_weight,
        min_score=settings.min_score, min_term_coverage=coverage, candidates=settings.candidates,
    )  # fmt: skip
    found = Retriever(
        container.registry, container.store, container.lexical, container.embedder, config
    )

    def search(text: str) -> list[str]:
        passages = found.search(kb_id, SearchRequest(text, top_k=TOP_K, mode=mode))
        return list(dict.fromkeys(p.chunk.source.removeprefix("beir:") for p in passages))

    return search


def measure(
    search: Callable[[str], list[str]],
    collection: BeirCollection,
    answerable: list[tuple[str, str]],
    off_topic_search: Callable[[str], list[str]],
    off_topic: list[tuple[str, str]],
    identifiers: list[tuple[str, str]],
) -> tuple[float, int, int, float, int, int]:
    """nDCG@10 and unanswered count on the answerable queries; off-topic queries answered and
    their mean number of passages; identifiers whose passage is found, alone and in a question."""
    ndcg, empty = 0.0, 0
    for qid, text in answerable:
        ranked = search(text)
        ndcg += ndcg_at(ranked, collection.qrels[qid], 10)
        empty += not ranked
    found = [len(off_topic_search(text)) for _, text in off_topic]
    alone = sum(doc in search(token) for token, doc in identifiers)
    asked = sum(doc in search(IN_A_QUESTION.format(token)) for token, doc in identifiers)
    return (ndcg / len(answerable), empty, sum(n > 0 for n in found), sum(found) / len(found),
            alone, asked)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--coverage", default="0.6,0.75,1")
    parser.add_argument("--modes", default="dense,lexical,hybrid")
    args = parser.parse_args()
    if not (args.corpus / "corpus.jsonl").is_file():
        sys.exit(f"no BEIR collection at {args.corpus}")
    collection = load_beir(args.corpus)
    judged = collection.judged_queries()
    asked, held = judged[1::2], judged[0::2]  # off-topic queries, and the topics kept
    kept_ids = {d for qid, _ in held for d, g in collection.qrels[qid].items() if g > 0}
    asked_ids = {d for qid, _ in asked for d, g in collection.qrels[qid].items() if g > 0}
    kept = [row for row in collection.corpus if row["_id"] in kept_ids - asked_ids]
    identifiers = unique_identifiers(collection, IDENTIFIERS)

    with tempfile.TemporaryDirectory(prefix="kb-floor-") as tmp:
        base = Settings()
        settings = base.model_copy(
            update={
                "storage": base.storage.model_copy(update={"data_dir": Path(tmp)}),
                "embedding": base.embedding.model_copy(update={"cache_dir": base.model_cache_dir}),
            }
        )
        container = build_container(settings, embedder=None)
        try:
            print(f"ingesting {len(collection.corpus)} + {len(kept)} passages ...", flush=True)
            whole = ingest(container, "whole", collection.corpus)
            partial = ingest(container, "off-topic", kept)
            floor = settings.retrieval.min_score
            print(f"\n{len(judged)} answerable queries; {len(asked)} off-topic ones asked of the "
                  f"{len(kept)} passages relevant to the other {len(held)}; top {TOP_K}, "
                  f"cosine floor {floor}; {len(identifiers)} identifiers, e.g. "
                  f"{', '.join(t for t, _ in identifiers[:3])}\n")  # fmt: skip
            print("| mode | rule | nDCG@10 | answerable, no passage | off-topic, any passage |"
                  " off-topic, mean passages | identifier alone | in a question |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|")
            for mode in args.modes.split(","):
                rules: list[tuple[str, float | None]] = [("cosine only (old)", None)]
                rules += [(f"cosine or lexical, coverage {c}", float(c))
                          for c in args.coverage.split(",")]  # fmt: skip
                for label, coverage in rules:
                    on_whole = searcher(container, whole, mode, coverage or 0.0)
                    on_partial = searcher(container, partial, mode, coverage or 0.0)
                    args_ = (on_whole, collection, judged, on_partial, asked, identifiers)
                    if coverage is None:
                        with cosine_only():
                            figures = measure(*args_)
                    else:
                        figures = measure(*args_)
                    ndcg, empty, answered, mean, alone, in_question = figures
                    print(f"| {mode} | {label} | {ndcg:.3f} | {empty}/{len(judged)} |"
                          f" {answered}/{len(asked)} | {mean:.1f} | {alone}/{len(identifiers)} |"
                          f" {in_question}/{len(identifiers)} |", flush=True)  # fmt: skip
        finally:
            container.close()


if __name__ == "__main__":
    main()
