"""The idempotent ingestion pipeline: bytes -> text -> chunks -> vectors -> store + registry.

Versions are keyed by content hash. New chunks are written under their own version first, the
registry then switches the document's active version in one transaction, and only then are the
old version's chunks removed. Retrieval serves only chunks of the active version, so a failure at
any step leaves the previous version searchable and never a mix of both.

Parsing, chunking and embedding need no lock: they depend on the content alone. The knowledge
base's write lock is taken to compare the content with what is stored and to write, so a slow
parse (up to ``ParseLimits.parse_timeout_s``, ``ingest.parsers.isolation``) holds up no other
writer. A document stored meanwhile under the same source is found then: the prepared chunks
are moved onto it (``settle``), never parsed again under the lock.

Each knowledge base is chunked and embedded by its own model (``kb.index_models``): a source
is prepared for the model its knowledge base has then, and if a re-index switched the model
before the write (``ingest.pipeline.reindex``), its chunks are embedded again under the lock by
the new one, so an index never holds vectors of two models.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import UTC, datetime

from ingest.chunking import ChunkSpan, SentenceChunker
from ingest.parsers.base import ParsedDocument, ParseLimits
from ingest.parsers.isolation import ParserPool
from ingest.pipeline.batching import BatchRun, IngestResult, Marker, Outcome, Prepared, Report
from ingest.pipeline.queueing import OnePerKey
from ingest.sources import RawSource
from kb.db.base import new_id
from kb.db.registry import Registry
from kb.embeddings.base import Embedder, TokenizingEmbedder
from kb.errors import KBError, NoExtractableText, PayloadTooLarge
from kb.index.lexical import LexicalIndex
from kb.index.vectors import VectorStore
from kb.index_models import BoundIndex, IndexModels
from kb.models import Chunk, Document, chunk_id, content_version
from kb.runtime.events import EventBus
from kb.runtime.priority import Background

__all__ = ["IngestResult", "IngestionService", "Outcome", "content_hash"]

log = logging.getLogger(__name__)


def content_hash(raw: RawSource) -> str:
    """Hash of everything that shapes the stored chunks: the bytes and the given title."""
    digest = hashlib.sha256(raw.data)
    digest.update(b"\0title\0" + (raw.title or "").encode())
    return digest.hexdigest()


class IngestionService:
    """Ingests sources into knowledge bases, idempotently.

    ``ingest`` and ``ingest_many`` run on ``background``'s low-priority threads
    (``kb.runtime.priority``), so searches served meanwhile come first; the caller waits as before.
    Without it they run on the caller's thread. ``parser`` parses PDF, DOCX and HTML in worker
    processes, each under ``limits.parse_timeout_s``; the service stops them on ``close``.
    """

    def __init__(
        self,
        registry: Registry,
        store: VectorStore,
        lexical: LexicalIndex,
        embedder: Embedder,
        chunker: SentenceChunker,
        parser: ParserPool,
        limits: ParseLimits,
        max_bytes: int,
        events: EventBus | None = None,
        background: Background | None = None,
        indexes: IndexModels | None = None,
        chunker_for: Callable[[TokenizingEmbedder], SentenceChunker] | None = None,
        locks: Callable[[str], AbstractContextManager[object]] | None = None,
    ) -> None:
        self._registry = registry
        # Several processes writing (kb.jobs.locks): each knowledge base's lock is held
        # across them; else the in-process locks below.
        self._shared_locks = locks
        # Each knowledge base's model, and a chunker sized in that model's tokens; without
        # them, ``embedder`` and ``chunker`` serve every knowledge base.
        self._indexes = indexes
        self._chunker_for = chunker_for
        self._chunkers: dict[str, SentenceChunker] = {}
        self._default_model = embedder.name
        self._background = background or Background(0, name="ingest")
        self._events = events  # told about each created or updated document
        self._store = store
        self._lexical = lexical
        self._embedder = embedder
        self._chunker = chunker
        self._parser = parser
        self._limits = limits
        self._max_bytes = max_bytes
        # Writes to one knowledge base are serialised: it keeps "write new version, switch,
        # drop old" atomic per document. Only comparing and writing happen under the lock.
        self._locks: defaultdict[str, threading.RLock] = defaultdict(threading.RLock)
        self._locks_guard = threading.Lock()
        # Uploads take turns per knowledge base on the few background threads, so one whose
        # files run to the parse budget never holds them all (ingest.pipeline.queueing).
        self._uploads = OnePerKey(self._background.submit)

    @property
    def background_nice(self) -> int:
        """Nice value of the threads ingestion runs on (0: normal priority)."""
        return self._background.nice

    def submit(self, kb_id: str, raw: RawSource) -> Future[IngestResult]:
        """``ingest`` started on a background thread, for callers that await it (the API); a
        knowledge base's uploads run one at a time, in the order they came."""
        return self._uploads.submit(kb_id, self._ingest, kb_id, raw)

    def ingest(self, kb_id: str, raw: RawSource) -> IngestResult:
        """Ingest one source: unchanged content is skipped, changed content replaces the old."""
        return self._background.run(self._ingest, kb_id, raw)

    def _ingest(self, kb_id: str, raw: RawSource) -> IngestResult:
        """Compare under the lock, parse, chunk and embed without it, write under it."""
        self._registry.get_kb(kb_id)
        with self.lock(kb_id):
            unchanged = self.unchanged(kb_id, raw)
        if unchanged is not None:
            return unchanged
        prepared = self.prepare(kb_id, raw)
        vectors = self.vectors(kb_id, [prepared])
        with self.lock(kb_id):
            stored = self._registry.find_document_by_source(kb_id, raw.source)
            settled = self.settle(prepared, stored)
            if isinstance(settled, IngestResult):
                return settled
            return self.commit(kb_id, [settled], vectors)[0]

    def ingest_many(
        self,
        kb_id: str,
        raws: Iterable[RawSource | Marker],
        on_done: Report | None = None,
        batch_chunks: int = 256,
    ) -> list[IngestResult | KBError]:
        """Ingest many sources, embedding their chunks in shared batches (much faster for many
        small documents) while the next sources are parsed and the previous batch is written
        (``ingest.pipeline.batching``). A source that fails is reported, not raised; the others
        go on. ``on_done`` is called on the thread that ingests, in the order of the sources. A
        caller whose sources arrive slowly yields ``ingest.pipeline.batching.STORE_NOW`` between
        them to have those received so far stored and reported before the next one comes."""
        self._registry.get_kb(kb_id)
        return self._background.run(BatchRun(self, kb_id, on_done, batch_chunks).run, raws)

    def close(self) -> None:
        """Let running ingestion finish, then stop the background threads and parse workers."""
        self._background.close()
        self._parser.close()

    def warm_up(self) -> None:
        """Load what the first ingestion would otherwise wait for: the embedding model and the
        sentence splitter's imports (NLTK's punkt, ~1 s). Stores nothing. Parse workers start
        when a document first needs one (~0.5 s), not here: a server (or a test's app) that
        never sees a PDF, DOCX or HTML file runs none."""
        parsed = self._parser(b"Warm up. A second sentence.", self._limits, "warm-up.txt", None)
        self._chunker.split(parsed)
        self._embedder.embed(["warm up"])

    # -- the steps of a batch run (ingest.pipeline.batching.BatchSteps) -----------------------

    def lock(self, kb_id: str) -> AbstractContextManager[object]:
        """The knowledge base's write lock: one writer per knowledge base."""
        if self._shared_locks is not None:
            return self._shared_locks(kb_id)
        with self._locks_guard:
            return self._locks[kb_id]

    def unchanged(self, kb_id: str, raw: RawSource) -> IngestResult | None:
        """The source's stored document if it holds this content already (new metadata saved),
        else None. No parse: cheap enough under the lock."""
        digest, existing = self._look_up(kb_id, raw)
        return self._same_content(raw, digest, existing)

    def prepare(self, kb_id: str, raw: RawSource) -> Prepared:
        """Parse and chunk a source against its stored document (no lock: ``settle`` checks
        that document again under it)."""
        digest, existing = self._look_up(kb_id, raw)
        return self._chunked(kb_id, raw, digest, existing)

    def prepare_ahead(self, kb_id: str, raw: RawSource) -> Prepared | Document:
        """Parse and chunk a source outside the lock; its stored document when unchanged."""
        digest, existing = self._look_up(kb_id, raw)
        if existing and existing.content_hash == digest and existing.status == "ready":
            return existing
        return self._chunked(kb_id, raw, digest, existing)

    def settle(self, prepared: Prepared, stored: Document | None) -> Prepared | IngestResult:
        """``prepared`` made current against ``stored``, the source's document now (under the
        lock): unchanged if it holds this content already, else moved onto it. No parse: the
        chunks and their vectors depend on the content only, not on the document."""
        if stored == prepared.existing:
            return prepared
        unchanged = self._same_content(prepared.raw, prepared.digest, stored)
        if unchanged is not None:
            return unchanged
        doc_id = stored.id if stored is not None else new_id("doc")
        chunks = [
            replace(c, id=chunk_id(doc_id, c.version, c.index), document_id=doc_id)
            for c in prepared.chunks
        ]
        return replace(prepared, doc_id=doc_id, chunks=chunks, existing=stored)

    def stored_by_source(self, kb_id: str, sources: list[str]) -> dict[str, Document]:
        """The documents stored for these sources, by source."""
        return self._registry.find_documents_by_source(kb_id, sources)

    def vectors(self, kb_id: str, batch: list[Prepared]) -> list[list[float]]:
        """A vector per chunk of ``batch``, in order (needs no lock). Chunks whose text is
        unchanged from the document's stored version keep their vector; only new text is
        embedded (an edited page re-embeds the passages that changed, not the whole page)."""
        bound = self._bound(kb_id)
        models = {p.model for p in batch}
        if len(models) > 1:  # prepared across a switch of model: each by its own
            found: dict[int, list[list[float]]] = {}
            for model in models:
                part = [p for p in batch if p.model == model]
                parts = self._split(part, self._vectors(kb_id, part))
                found.update(zip(map(id, part), parts, strict=True))
            return [v for p in batch for v in found[id(p)]]
        # The stored vectors of unchanged texts are reused only if made by the same model.
        reuse = bound is None or all(p.fingerprint == bound.index.fingerprint for p in batch)
        return self._vectors(kb_id, batch, reuse, bound)

    @staticmethod
    def _split(batch: list[Prepared], vectors: list[list[float]]) -> list[list[list[float]]]:
        parts, offset = [], 0
        for prepared in batch:
            parts.append(vectors[offset : offset + len(prepared.chunks)])
            offset += len(prepared.chunks)
        return parts

    def _vectors(
        self,
        kb_id: str,
        batch: list[Prepared],
        reuse: bool = False,
        bound: BoundIndex | None = None,
    ) -> list[list[float]]:
        texts: list[str] = []
        ids_of: dict[str, Sequence[int] | None] = {}  # the token ids of a text, if known
        for prepared in batch:
            ids = prepared.token_ids or [None] * len(prepared.chunks)
            for chunk, chunk_ids in zip(prepared.chunks, ids, strict=True):
                texts.append(embedding_text(chunk))
                ids_of.setdefault(texts[-1], chunk_ids)
        known: dict[str, list[float]] = {}
        old_ids = [
            chunk_id(p.existing.id, p.existing.version, i)
            for p in batch
            if p.existing is not None
            for i in range(p.existing.chunk_count)
        ]
        if old_ids and reuse:
            wanted = set(texts)
            collection = bound.index.collection if bound is not None else None
            for chunk, vector in self._store.get(kb_id, old_ids, collection=collection):
                text = embedding_text(chunk)
                if text in wanted:
                    known[text] = vector
        fresh = list(dict.fromkeys(t for t in texts if t not in known))
        embedder = self._embedder_of(batch[0].model if batch else None)
        vectors = embedder.embed(fresh, [ids_of[t] for t in fresh])
        known.update(zip(fresh, vectors, strict=True))
        return [known[t] for t in texts]

    def _bound(self, kb_id: str) -> BoundIndex | None:
        return self._indexes.bound(kb_id) if self._indexes is not None else None

    def _chunker_of(self, bound: BoundIndex | None) -> SentenceChunker:
        """The chunker sized in the tokens of the knowledge base's model."""
        if bound is None or self._chunker_for is None:
            return self._chunker
        model = bound.index.model
        with self._locks_guard:
            found = self._chunkers.get(model)
        if found is None:
            found = self._chunker_for(bound.embedder)
            with self._locks_guard:
                found = self._chunkers.setdefault(model, found)
        return found

    def _embedder_of(self, model: str | None) -> Embedder:
        # The configured model is ``embedder`` itself (loaded once; tests may wrap it).
        if model is None or self._indexes is None or model == self._default_model:
            return self._embedder
        return self._indexes.pool.get(model)

    def _look_up(self, kb_id: str, raw: RawSource) -> tuple[str, Document | None]:
        """The source's content hash and the document it was stored as, if any."""
        if len(raw.data) > self._max_bytes:
            raise PayloadTooLarge(
                f"The document is {len(raw.data)} bytes; the limit is {self._max_bytes}.",
                limit_bytes=self._max_bytes,
            )
        return content_hash(raw), self._registry.find_document_by_source(kb_id, raw.source)

    def _same_content(
        self, raw: RawSource, digest: str, existing: Document | None
    ) -> IngestResult | None:
        if existing is None or existing.content_hash != digest or existing.status != "ready":
            return None
        if raw.metadata and raw.metadata != existing.metadata:
            existing = self._registry.save_document(replace(existing, metadata=raw.metadata))
        return IngestResult(existing, "unchanged")

    def _chunked(
        self, kb_id: str, raw: RawSource, digest: str, existing: Document | None
    ) -> Prepared:
        parsed = self._parser(raw.data, self._limits, raw.filename, raw.declared_type)
        doc_id = existing.id if existing else new_id("doc")
        title = raw.title or parsed.title or raw.filename or raw.source
        bound = self._bound(kb_id)
        chunker = self._chunker_of(bound)
        spans = chunker.split(parsed)
        if not spans:
            raise NoExtractableText("The document holds no text to index.")
        chunks = self._make_chunks(
            kb_id, doc_id, content_version(digest), title, raw.source, parsed, spans
        )
        token_ids = self._token_ids(chunker, chunks, spans)
        return Prepared(
            raw,
            digest,
            doc_id,
            title,
            parsed.media_type,
            chunks,
            existing,
            token_ids,
            model=bound.index.model if bound is not None else None,
            fingerprint=bound.index.fingerprint if bound is not None else None,
        )

    def commit(
        self, kb_id: str, batch: list[Prepared], vectors: Sequence[Sequence[float]]
    ) -> list[IngestResult]:
        """Write the new versions, switch the registry to them in one transaction, then drop
        the older versions (the caller holds the lock)."""
        now = datetime.now(UTC)
        bound = self._bound(kb_id)
        collection = bound.index.collection if bound is not None else None
        try:
            chunks = [c for p in batch for c in p.chunks]
            if bound is not None and any(p.fingerprint != bound.index.fingerprint for p in batch):
                # A re-index switched the model since these were embedded: embed them again
                # with the knowledge base's model now (rare; under the lock).
                texts = [embedding_text(c) for c in chunks]
                vectors = bound.embedder.embed(texts) if texts else []
            self._store.add(
                kb_id,
                chunks,
                vectors,
                collection=collection,
                embedded_by=bound.index.fingerprint if bound is not None else None,
            )
            self._lexical.add(kb_id, chunks)
            documents = self._registry.save_documents([_document(kb_id, p, now) for p in batch])
        except BaseException:
            # The registry still points at the old versions: drop the half-written new ones.
            for prepared in batch:
                self._discard_version(kb_id, prepared.doc_id, prepared.version)
            raise
        for prepared in batch:
            if prepared.existing is not None:
                version = prepared.version
                self._store.delete_document(
                    kb_id, prepared.doc_id, keep_version=version, collection=collection
                )
                self._lexical.delete_document(kb_id, prepared.doc_id, keep_version=version)
            log.info(
                "ingested %s into %s: %d chunks", prepared.raw.source, kb_id, len(prepared.chunks)
            )
        results = [
            IngestResult(document, "updated" if prepared.existing else "created")
            for prepared, document in zip(batch, documents, strict=True)
        ]
        if self._events is not None:
            for result in results:
                self._events.publish("document.ingested", _ingested_event(result))
        return results

    def _discard_version(self, kb_id: str, doc_id: str, version: str) -> None:
        try:
            self._store.delete_version(kb_id, doc_id, version)
            self._lexical.delete_version(kb_id, doc_id, version)
        except Exception:
            log.warning("could not clean up chunks of a failed ingestion of %s", doc_id)

    def _make_chunks(
        self,
        kb_id: str,
        doc_id: str,
        version: str,
        title: str,
        source: str,
        parsed: ParsedDocument,
        spans: list[ChunkSpan],
    ) -> list[Chunk]:
        return [
            Chunk(
                id=chunk_id(doc_id, version, span.index),
                kb_id=kb_id,
                document_id=doc_id,
                version=version,
                index=span.index,
                text=span.text,
                title=title,
                source=source,
                media_type=parsed.media_type,
                start_char=span.start_char,
                end_char=span.end_char,
                page=span.page,
                page_end=span.page_end,
                section=span.section,
            )
            for span in spans
        ]

    def _token_ids(
        self, chunker: SentenceChunker, chunks: list[Chunk], spans: list[ChunkSpan]
    ) -> list[list[int] | None]:
        """Per chunk, the token ids of its ``embedding_text`` where the chunker knew its text's:
        the context lines' ids (each tokenised once per document) and then the text's, as the
        lines are joined by a newline, where such a tokenizer cuts words."""
        known: dict[str, list[int] | None] = {}

        def line_ids(line: str) -> list[int] | None:
            if line not in known:
                tokens = chunker.word_tokens(line)
                known[line] = tokens.ids if tokens is not None else None
            return known[line]

        found: list[list[int] | None] = []
        for chunk, span in zip(chunks, spans, strict=True):
            if span.token_ids is None:
                found.append(None)
                continue
            parts = [*(line_ids(line) for line in embedding_context(chunk)), span.token_ids]
            found.append(None if None in parts else [i for part in parts if part for i in part])
        return found

    def delete_document(self, kb_id: str, doc_id: str) -> Document:
        """Remove a document's record and its chunks."""
        with self.lock(kb_id):
            document = self._registry.delete_document(kb_id, doc_id)
            self._store.delete_document(kb_id, doc_id)
            self._lexical.delete_document(kb_id, doc_id)
        return document


def _document(kb_id: str, prepared: Prepared, now: datetime) -> Document:
    existing = prepared.existing
    return Document(
        id=prepared.doc_id,
        kb_id=kb_id,
        title=prepared.title,
        source=prepared.raw.source,
        media_type=prepared.media_type,
        content_hash=prepared.digest,
        size_bytes=len(prepared.raw.data),
        chunk_count=len(prepared.chunks),
        status="ready",
        metadata=prepared.raw.metadata or (existing.metadata if existing else {}),
        created_at=existing.created_at if existing else now,
        updated_at=now,
    )


def _ingested_event(result: IngestResult) -> dict[str, object]:
    # Ids and small fields only: a webhook never carries document text.
    document = result.document
    return {
        "kb_id": document.kb_id,
        "document_id": document.id,
        "outcome": result.outcome,
        "title": document.title,
        "source": document.source,
        "media_type": document.media_type,
        "chunk_count": document.chunk_count,
        "content_hash": document.content_hash,
    }


def embedding_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: its title and section above its text."""
    return "\n".join([*embedding_context(chunk), chunk.text])


def embedding_context(chunk: Chunk) -> list[str]:
    """The lines ``embedding_text`` puts above a chunk's text."""
    # Title and section give a passage the context its own words may lack ("Pricing" above
    # "It costs"), also for the second half of a long section that lost its heading line.
    context = [chunk.title] if chunk.title else []
    if chunk.section and chunk.section not in chunk.text[: len(chunk.section) + 8]:
        context.append(chunk.section)
    return context
