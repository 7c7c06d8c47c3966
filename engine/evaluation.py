"""Retrieval evaluation on BEIR-layout collections: loading, metrics, and the query loop."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from kb.errors import InvalidInput

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


@dataclass(frozen=True)
class BeirCollection:
    """A corpus, its queries and the relevance judgements (``qrels[query][doc] = grade``)."""

    corpus: list[dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]

    def judged_queries(self) -> list[tuple[str, str]]:
        """Queries with at least one relevant passage present in the corpus."""
        present = {doc["_id"] for doc in self.corpus}
        return [
            (qid, text)
            for qid, text in self.queries.items()
            if any(grade > 0 and doc in present for doc, grade in self.qrels.get(qid, {}).items())
        ]


def load_beir(folder: Path, split: str = "test") -> BeirCollection:
    """Read ``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` from a folder."""
    paths = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    for path in paths:
        if not path.is_file():
            raise InvalidInput(f"Not a BEIR folder: {path} is missing.")
    corpus = [_corpus_row(json.loads(line)) for line in _lines(paths[0])]
    queries = {str(q["_id"]): str(q["text"]) for q in map(json.loads, _lines(paths[1]))}
    qrels: dict[str, dict[str, int]] = {}
    with paths[2].open(newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or row[0] == "query-id":
                continue
            qrels.setdefault(row[0], {})[row[1]] = int(float(row[2]))
    return BeirCollection(corpus, queries, qrels)


def _lines(path: Path) -> Iterable[str]:
    with path.open(encoding="utf-8") as handle:
        yield from (line for line in handle if line.strip())


def _corpus_row(row: dict[str, object]) -> dict[str, str]:
    return {"_id": str(row["_id"]), "title": str(row.get("title") or ""), "text": str(row["text"])}


def ndcg_at(ranked: list[str], grades: dict[str, int], k: int) -> float:
    """nDCG@k with exponential gains 2^grade - 1 (Burges et al.), so a highly relevant passage
    counts more than a marginal one; identical to linear gains for binary judgements."""
    dcg = sum((2 ** grades.get(doc, 0) - 1) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted((g for g in grades.values() if g > 0), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: list[str], grades: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the first k."""
    relevant = {doc for doc, g in grades.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: list[str], grades: dict[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within k (0 when none)."""
    for i, doc in enumerate(ranked[:k]):
        if grades.get(doc, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def score_run(ranked: list[str], grades: dict[str, int]) -> dict[str, float]:
    """All metrics for one query."""
    return {
        "ndcg@10": ndcg_at(ranked, grades, 10),
        "recall@10": recall_at(ranked, grades, 10),
        "recall@100": recall_at(ranked, grades, 100),
        "mrr@10": mrr_at(ranked, grades, 10),
    }


def evaluate(
    collection: BeirCollection,
    search: Callable[[str], list[str]],
    on_query: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Mean metrics of ``search`` (query text -> ranked corpus ids) over the judged queries."""
    judged = collection.judged_queries()
    totals = dict.fromkeys(METRICS, 0.0)
    for qid, text in judged:
        for name, value in score_run(search(text), collection.qrels[qid]).items():
            totals[name] += value
        if on_query:
            on_query()
    return {name: total / len(judged) if judged else 0.0 for name, total in totals.items()}
