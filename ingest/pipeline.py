"""The idempotent ingestion pipeline: bytes -> text -> chunks -> vectors -> store + registry.

Versions are keyed by content hash. New chunks are written under their own version first, the
registry then switches the document's active version in one transaction, and only then are the
old version's chunks removed. Retrieval serves only chunks of the active version, so a failure at
any step leaves the previous version searchable and never a mix of both.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal

from ingest.chunking import SentenceChunker
from ingest.parsers.base import ParsedDocument, ParseLimits
from ingest.sources import RawSource
from kb.embeddings import Embedder
from kb.errors import NoExtractableText, PayloadTooLarge
from kb.models import Chunk, Document
from kb.registry import Registry, new_id
from kb.store import VectorStore

log = logging.getLogger(__name__)

Outcome = Literal["created", "updated", "unchanged"]
ParseFn = Callable[[bytes, ParseLimits, str | None, str | None], ParsedDocument]


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one source did."""

    document: Document
    outcome: Outcome


def content_hash(raw: RawSource) -> str:
    """Hash of everything that shapes the stored chunks: the bytes and the given title."""
    digest = hashlib.sha256(raw.data)
    digest.update(b"\0title\0" + (raw.title or "").encode())
    return digest.hexdigest()


class IngestionService:
    """Ingests sources into knowledge bases, idempotently."""

    def __init__(
        self,
        registry: Registry,
        store: VectorStore,
        embedder: Embedder,
        chunker: SentenceChunker,
        parse: ParseFn,
        limits: ParseLimits,
        max_bytes: int,
    ) -> None:
        self._registry = registry
        self._store = store
        self._embedder = embedder
        self._chunker = chunker
        self._parse = parse
        self._limits = limits
        self._max_bytes = max_bytes
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_guard = threading.Lock()

    def _lock(self, kb_id: str, source: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks[f"{kb_id}\0{source}"]

    def ingest(self, kb_id: str, raw: RawSource) -> IngestResult:
        """Ingest one source: unchanged content is skipped, changed content replaces the old."""
        self._registry.get_kb(kb_id)
        if len(raw.data) > self._max_bytes:
            raise PayloadTooLarge(
                f"The document is {len(raw.data)} bytes; the limit is {self._max_bytes}.",
                limit_bytes=self._max_bytes,
            )
        with self._lock(kb_id, raw.source):
            return self._ingest_locked(kb_id, raw)

    def _ingest_locked(self, kb_id: str, raw: RawSource) -> IngestResult:
        digest = content_hash(raw)
        existing = self._registry.find_document_by_source(kb_id, raw.source)
        if existing and existing.content_hash == digest and existing.status == "ready":
            if raw.metadata and raw.metadata != existing.metadata:
                existing = self._registry.save_document(replace(existing, metadata=raw.metadata))
            return IngestResult(existing, "unchanged")

        parsed = self._parse(raw.data, self._limits, raw.filename, raw.declared_type)
        doc_id = existing.id if existing else new_id("doc")
        title = raw.title or parsed.title or raw.filename or raw.source
        version = digest[:16]
        chunks = self._make_chunks(kb_id, doc_id, version, title, raw.source, parsed)
        if not chunks:
            raise NoExtractableText("The document holds no text to index.")
        vectors = self._embedder.embed([_embedding_text(c) for c in chunks])
        try:
            self._store.add(kb_id, chunks, vectors)
            now = datetime.now(UTC)
            document = self._registry.save_document(
                Document(
                    id=doc_id,
                    kb_id=kb_id,
                    title=title,
                    source=raw.source,
                    media_type=parsed.media_type,
                    content_hash=digest,
                    size_bytes=len(raw.data),
                    chunk_count=len(chunks),
                    status="ready",
                    metadata=raw.metadata or (existing.metadata if existing else {}),
                    created_at=existing.created_at if existing else now,
                    updated_at=now,
                )
            )
        except BaseException:
            # The registry still points at the old version: drop the half-written new one.
            self._discard_version(kb_id, doc_id, version)
            raise
        self._store.delete_document(kb_id, doc_id, keep_version=version)
        log.info("ingested %s into %s: %d chunks", raw.source, kb_id, len(chunks))
        return IngestResult(document, "updated" if existing else "created")

    def _discard_version(self, kb_id: str, doc_id: str, version: str) -> None:
        try:
            self._store.delete_version(kb_id, doc_id, version)
        except Exception:  # noqa: BLE001 - best effort: retrieval ignores inactive versions anyway
            log.warning("could not clean up chunks of a failed ingestion of %s", doc_id)

    def _make_chunks(
        self,
        kb_id: str,
        doc_id: str,
        version: str,
        title: str,
        source: str,
        parsed: ParsedDocument,
    ) -> list[Chunk]:
        return [
            Chunk(
                id=f"{doc_id}:{version}:{span.index}",
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
            )
            for span in self._chunker.split(parsed)
        ]

    def delete_document(self, kb_id: str, doc_id: str) -> Document:
        """Remove a document's record and its chunks."""
        document = self._registry.get_document(kb_id, doc_id)
        with self._lock(kb_id, document.source):
            document = self._registry.delete_document(kb_id, doc_id)
            self._store.delete_document(kb_id, doc_id)
        return document


def _embedding_text(chunk: Chunk) -> str:
    # The title gives a passage the context its own words may lack ("Pricing" above "It costs").
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text
