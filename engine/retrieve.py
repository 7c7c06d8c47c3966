"""Retrieval: dense (Chroma), lexical (BM25) or both fused, with filters, near-duplicate removal
and an optional reranker; only live versions of documents are ever served."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from engine.fusion import FUSIONS
from kb.embeddings import Embedder
from kb.errors import InvalidInput
from kb.lexical import LexicalIndex
from kb.models import Chunk, Passage
from kb.registry import Registry, TagValue
from kb.store import VectorStore

MODES = ("dense", "lexical", "hybrid")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions applied to every retriever before fusion."""

    document_ids: tuple[str, ...] = ()
    source_prefixes: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    tags: tuple[tuple[str, TagValue], ...] = ()


@dataclass(frozen=True)
class SearchRequest:
    """A search: the query, how many passages, the relevance floor, the mode and filters."""

    query: str
    top_k: int = 5
    min_score: float | None = None
    mode: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)


@dataclass(frozen=True)
class RetrievalConfig:
    """Server-wide retrieval defaults."""

    mode: str = "hybrid"
    fusion: str = "rrf"
    dense_weight: float = 0.7
    min_score: float = 0.3
    candidates: int = 40


class Reranker(Protocol):
    """Reorders passages by a finer relevance model."""

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        """The passages, best first, with the reranker's score."""


class Retriever:
    """Finds the passages of one knowledge base that best match a query."""

    def __init__(
        self,
        registry: Registry,
        store: VectorStore,
        lexical: LexicalIndex,
        embedder: Embedder,
        config: RetrievalConfig,
        reranker: Reranker | None = None,
    ) -> None:
        self._registry = registry
        self._store = store
        self._lexical = lexical
        self._embedder = embedder
        self._config = config
        self._reranker = reranker
        if config.fusion not in FUSIONS:
            raise InvalidInput(f"Unknown fusion {config.fusion!r}; use one of {sorted(FUSIONS)}.")

    def search(self, kb_id: str, request: SearchRequest) -> list[Passage]:
        """Best passages first; those below the similarity floor are left out."""
        self._registry.get_kb(kb_id)
        mode = request.mode or self._config.mode
        if mode not in MODES:
            raise InvalidInput(f"Unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}.")
        document_ids = self._resolve_documents(kb_id, request.filters)
        if document_ids == []:
            return []
        media_types = list(request.filters.media_types) or None
        depth = max(request.top_k * 2, self._config.candidates)
        [vector] = self._embedder.embed([request.query])

        dense: list[Passage] = []
        if mode != "lexical":
            where = _chroma_where(document_ids, media_types)
            dense = self._store.query(kb_id, vector, k=depth, where=where)
        lexical: list[tuple[str, float]] = []
        if mode != "dense":
            hits = self._lexical.search(kb_id, request.query, depth, document_ids, media_types)
            lexical = [(h.chunk_id, h.score) for h in hits]

        pool = {p.chunk.id: (p.chunk, p.score) for p in dense}
        missing = [cid for cid, _ in lexical if cid not in pool]
        for chunk, stored in self._store.get(kb_id, missing):
            pool[chunk.id] = (chunk, sum(q * v for q, v in zip(vector, stored, strict=True)))
        pool = self._live_only(kb_id, pool)

        ranked = self._rank(mode, [(p.chunk.id, p.score) for p in dense], lexical, pool)
        floor = self._config.min_score if request.min_score is None else request.min_score
        passages = [
            Passage(pool[cid][0], score, similarity=pool[cid][1])
            for cid, score in ranked
            if cid in pool and pool[cid][1] >= floor
        ]
        passages = _drop_near_duplicates(passages)
        if self._reranker is not None and passages:
            passages = self._reranker.rerank(request.query, passages)
        return passages[: request.top_k]

    def _rank(
        self,
        mode: str,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        pool: dict[str, tuple[Chunk, float]],
    ) -> list[tuple[str, float]]:
        dense = [(cid, s) for cid, s in dense if cid in pool]
        lexical = [(cid, s) for cid, s in lexical if cid in pool]
        if mode == "dense":
            return dense
        if mode == "lexical":
            return lexical
        weight = self._config.dense_weight
        fused = FUSIONS[self._config.fusion]([dense, lexical], [weight, 1.0 - weight])
        return sorted(fused.items(), key=lambda item: (-item[1], item[0]))

    def _resolve_documents(self, kb_id: str, filters: SearchFilters) -> list[str] | None:
        """Document ids allowed by the filters, or None when documents are not restricted."""
        allowed: set[str] | None = set(filters.document_ids) if filters.document_ids else None
        if filters.source_prefixes or filters.tags:
            matching = set(
                self._registry.document_ids_matching(
                    kb_id, filters.source_prefixes, dict(filters.tags)
                )
            )
            allowed = matching if allowed is None else allowed & matching
        return sorted(allowed) if allowed is not None else None

    def _live_only(
        self, kb_id: str, pool: dict[str, tuple[Chunk, float]]
    ) -> dict[str, tuple[Chunk, float]]:
        # Chunks of a replaced version can linger until cleanup; they are never served.
        live = self._registry.active_versions(kb_id, {c.document_id for c, _ in pool.values()})
        return {
            cid: (chunk, sim)
            for cid, (chunk, sim) in pool.items()
            if live.get(chunk.document_id, "")[:16] == chunk.version
        }


def _chroma_where(document_ids: list[str] | None, media_types: list[str] | None) -> dict | None:  # type: ignore[type-arg]
    clauses: list[dict] = []  # type: ignore[type-arg]
    if document_ids is not None:
        clauses.append({"document_id": {"$in": document_ids}})
    if media_types:
        clauses.append({"media_type": {"$in": media_types}})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + 3]) for i in range(max(len(words) - 2, 1))}


def _drop_near_duplicates(passages: list[Passage], threshold: float = 0.9) -> list[Passage]:
    """Keep the best of passages whose word trigrams almost all coincide (the same page
    uploaded twice, a footer repeated on every page). 0.9, not lower: distinct passages that
    merely share a long quotation must both stay (0.8 dropped relevant MS MARCO passages)."""
    kept: list[tuple[Passage, set[tuple[str, ...]]]] = []
    for passage in passages:
        shingles = _shingles(passage.chunk.text)
        if all(
            len(shingles & other) / max(len(shingles | other), 1) < threshold for _, other in kept
        ):
            kept.append((passage, shingles))
    return [p for p, _ in kept]
