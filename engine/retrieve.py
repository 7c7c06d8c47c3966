"""Dense retrieval over a knowledge base, serving only live versions of documents."""

from __future__ import annotations

from dataclasses import dataclass

from kb.embeddings import Embedder
from kb.models import Passage
from kb.registry import Registry
from kb.store import VectorStore


@dataclass(frozen=True)
class SearchRequest:
    """A search: the query, how many passages, and the relevance floor."""

    query: str
    top_k: int = 5
    min_score: float | None = None
    document_ids: tuple[str, ...] = ()


class Retriever:
    """Finds the passages of one knowledge base nearest a query."""

    def __init__(
        self, registry: Registry, store: VectorStore, embedder: Embedder, min_score: float
    ) -> None:
        self._registry = registry
        self._store = store
        self._embedder = embedder
        self._min_score = min_score

    def search(self, kb_id: str, request: SearchRequest) -> list[Passage]:
        """Best passages first; passages below the relevance floor are left out."""
        self._registry.get_kb(kb_id)
        [vector] = self._embedder.embed([request.query])
        where = None
        if request.document_ids:
            where = {"document_id": {"$in": list(request.document_ids)}}
        # Fetch extra: chunks of a replaced version can linger until cleanup and are dropped here.
        candidates = self._store.query(kb_id, vector, k=request.top_k * 2 + 4, where=where)
        live = self._registry.active_versions(kb_id, {p.chunk.document_id for p in candidates})
        floor = self._min_score if request.min_score is None else request.min_score
        passages = [
            p
            for p in candidates
            if live.get(p.chunk.document_id, "")[:16] == p.chunk.version and p.score >= floor
        ]
        return _dedupe(passages)[: request.top_k]


def _dedupe(passages: list[Passage]) -> list[Passage]:
    """Drop passages whose text repeats one already ranked higher (the same page uploaded twice)."""
    seen: set[str] = set()
    unique = []
    for passage in passages:
        key = " ".join(passage.chunk.text.split()).lower()
        if key not in seen:
            seen.add(key)
            unique.append(passage)
    return unique
