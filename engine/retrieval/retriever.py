"""Retrieval: dense (Chroma), lexical (BM25) or both fused, with filters, near-duplicate removal
and an optional reranker; only live versions of documents are ever served."""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from engine.retrieval.fusion import FUSIONS
from engine.retrieval.relevance import RelevanceFloor, names_an_identifier
from kb.db.registry import Registry, TagValue
from kb.embeddings.base import Embedder
from kb.errors import InvalidInput
from kb.index.lexical import LexicalHit, LexicalIndex
from kb.index.vectors import DenseHit, VectorStore
from kb.index_models import IndexModels
from kb.models import KnowledgeBase, Passage, content_version

MODES = ("dense", "lexical", "hybrid")
_EXACT_MATCH_BONUS = 1.0
_WORD = re.compile(r"\w+")
# Runs the BM25 half of a search beside the dense half (SQLite releases the GIL).
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lexical")


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions applied to every retriever before fusion."""

    document_ids: tuple[str, ...] = ()
    source_prefixes: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    tags: tuple[tuple[str, TagValue], ...] = ()


@dataclass(frozen=True)
class SearchRequest:
    """A search: the query, how many passages, the dense relevance floor (cosine; the server's
    when None), the mode and filters."""

    query: str
    top_k: int = 5
    min_score: float | None = None
    mode: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)


@dataclass(frozen=True)
class RetrievalConfig:
    """Server-wide retrieval defaults (``min_score`` None: the floor of the knowledge base's
    embedding model, ``EmbedderSpec.relevance_floor``)."""

    mode: str = "hybrid"
    fusion: str = "rrf"
    dense_weight: float = 0.7
    min_score: float | None = None
    min_term_coverage: float = 0.75
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
        indexes: IndexModels | None = None,
    ) -> None:
        self._registry = registry
        # Each knowledge base's model, embedder and collection; without it, ``embedder`` and
        # the default collection serve every knowledge base (a single-model evaluation).
        self._indexes = indexes
        self._store = store
        self._lexical = lexical
        self._embedder = embedder
        self._config = config
        self._reranker = reranker
        if config.fusion not in FUSIONS:
            raise InvalidInput(f"Unknown fusion {config.fusion!r}; use one of {sorted(FUSIONS)}.")

    def search(self, kb_id: str, request: SearchRequest) -> list[Passage]:
        """Best passages first; those neither retriever vouches for are left out (see
        ``engine.retrieval.relevance``: cosine under the floor and weak lexical evidence).

        KnowledgeBaseNotFound unless the knowledge base exists; ``search_in`` when the caller
        has read it already.
        """
        return self.search_in(self._registry.get_kb(kb_id, counts=False), request)

    def search_in(self, kb: KnowledgeBase, request: SearchRequest) -> list[Passage]:
        """``search`` in a knowledge base already read (it is not looked up again).

        Dense and lexical candidates are found concurrently, filtered to live versions and
        ranked by id; only the best-ranked lexical-only chunks are then fetched from the
        vector store (for their text and cosine similarity), a window at a time, until
        ``top_k`` passages pass the relevance floor and the near-duplicate check.
        """
        kb_id = kb.id
        mode = request.mode or self._config.mode
        if mode not in MODES:
            raise InvalidInput(f"Unknown retrieval mode {mode!r}; use one of {', '.join(MODES)}.")
        document_ids = self._resolve_documents(kb_id, request.filters)
        if document_ids == []:
            return []
        media_types = list(request.filters.media_types) or None
        depth = max(request.top_k * 2, self._config.candidates)

        # BM25 needs no vector: it runs while the query is embedded and Chroma is searched.
        lexical_job: Future[list[LexicalHit]] | None = None
        if mode != "dense":
            lexical_job = _POOL.submit(
                self._lexical.search, kb_id, request.query, depth, document_ids, media_types
            )
        embedder, collection, fingerprint, model_floor = self._embedder, None, None, 0.3
        if self._indexes is not None:
            bound = self._indexes.bound(kb_id)
            embedder, model_floor = bound.embedder, bound.relevance_floor
            collection, fingerprint = bound.index.collection, bound.index.fingerprint
        try:
            # The knowledge base's own model embeds the question; the store refuses vectors
            # of any other (``EmbeddingModelMismatch``).
            [vector] = embedder.embed([request.query], kind="query")
            dense: list[DenseHit] = []
            if mode != "lexical":
                where = _chroma_where(document_ids, media_types)
                dense = self._store.query(
                    kb_id,
                    vector,
                    k=depth,
                    where=where,
                    collection=collection,
                    embedded_by=fingerprint,
                )
        finally:
            hits = lexical_job.result() if lexical_job is not None else []

        # Chunks of a replaced version can linger until cleanup; they are never served.
        live = {
            doc_id: content_version(digest)
            for doc_id, digest in self._registry.active_versions(
                kb_id, {d.document_id for d in dense} | {h.document_id for h in hits}
            ).items()
        }
        dense = [d for d in dense if live.get(d.document_id) == d.version]
        hits = [h for h in hits if live.get(h.document_id) == h.version]
        ranked = self._rank(
            mode,
            [(d.chunk_id, d.similarity) for d in dense],
            [(h.chunk_id, h.score) for h in hits],
            {h.chunk_id for h in hits if names_an_identifier(h)},
        )
        configured = self._config.min_score if self._config.min_score is not None else model_floor
        floor = RelevanceFloor(
            configured if request.min_score is None else request.min_score,
            self._config.min_term_coverage,
        )
        # Lexical evidence is judged on its own: the cosine floor never drops these chunks.
        vouched = {h.chunk_id for h in hits if floor.vouched_by_lexical(h)}
        similarity = {d.chunk_id: d.similarity for d in dense}
        passages = self._fetch_relevant(
            kb_id, ranked, vector, similarity, vouched, floor, request.top_k, collection
        )
        if self._reranker is not None and passages:
            passages = self._reranker.rerank(request.query, passages)
        return passages[: request.top_k]

    def _fetch_relevant(
        self,
        kb_id: str,
        ranked: list[tuple[str, float]],
        vector: list[float],
        similarity: dict[str, float],
        vouched: set[str],
        floor: RelevanceFloor,
        top_k: int,
        collection: str | None = None,
    ) -> list[Passage]:
        """The first relevant, distinct passages of ``ranked`` (``top_k``, or all of them for
        the reranker), read from the vector store a window at a time; ``similarity`` gains the
        cosine of the lexical-only chunks read."""

        def relevant(cid: str) -> bool:  # an unknown similarity passes until it is read
            return cid in vouched or floor.vouched_by_dense(similarity.get(cid, 1.0))

        # A reranker reorders everything that passes; without one, top_k passages suffice.
        wanted = len(ranked) if self._reranker is not None else top_k
        # One vector-store read usually suffices; near-duplicates can take a second one.
        window = top_k * 2 + 5
        passages: list[Passage] = []
        for start in range(0, len(ranked), window):
            part = [(cid, s) for cid, s in ranked[start : start + window] if relevant(cid)]
            chunks = {}
            ids = [cid for cid, _ in part]
            for chunk, stored in self._store.get(kb_id, ids, collection=collection):
                chunks[chunk.id] = chunk
                if chunk.id not in similarity:  # lexical-only: its cosine from its vector
                    similarity[chunk.id] = sum(q * v for q, v in zip(vector, stored, strict=True))
            passages += [
                Passage(chunks[cid], score, similarity=similarity[cid])
                for cid, score in part
                if cid in chunks and relevant(cid)
            ]
            passages = _drop_near_duplicates(passages, keep=wanted)
            if len(passages) >= wanted:
                break
        return passages

    def _rank(
        self,
        mode: str,
        dense: list[tuple[str, float]],
        lexical: list[tuple[str, float]],
        exact: set[str],
    ) -> list[tuple[str, float]]:
        """The candidates best first; in hybrid mode the ``exact`` ones (holding an identifier
        of the query) first of all.

        Weighted fusion ranks a chunk that only BM25 found below every dense candidate (RRF at
        dense weight 0.7: BM25's first, 0.3/61, under dense's 40th, 0.7/100), so the one passage
        holding "ORD88412" fell out of the top 5 behind passages merely about orders. Each
        fusion's scores are at most 1, so a bonus of 1 puts exact matches first and keeps the
        scores in rank order.
        """
        if mode == "dense":
            return dense
        if mode == "lexical":
            return lexical  # BM25 already ranks a rare identifier's matches first
        weight = self._config.dense_weight
        fused = FUSIONS[self._config.fusion]([dense, lexical], [weight, 1.0 - weight])
        for chunk_id in exact & fused.keys():
            fused[chunk_id] += _EXACT_MATCH_BONUS
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


def _drop_near_duplicates(
    passages: list[Passage], threshold: float = 0.9, keep: int | None = None
) -> list[Passage]:
    """Keep the best of passages whose word trigrams almost all coincide (the same page
    uploaded twice, a footer repeated on every page). 0.9, not lower: distinct passages that
    merely share a long quotation must both stay (0.8 dropped relevant MS MARCO passages).
    Stops once ``keep`` passages are kept."""
    kept: list[tuple[Passage, set[tuple[str, ...]]]] = []
    for passage in passages:
        if keep is not None and len(kept) >= keep:
            break
        shingles = _shingles(passage.chunk.text)
        if all(
            len(shingles & other) / max(len(shingles | other), 1) < threshold for _, other in kept
        ):
            kept.append((passage, shingles))
    return [p for p, _ in kept]
