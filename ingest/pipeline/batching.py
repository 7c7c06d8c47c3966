"""Ingesting many sources in one call: three stages on three threads, so the CPU never waits.

- A worker parses and chunks sources ahead (``prepare_ahead``): up to ``LOOKAHEAD`` sources and
  ``LOOKAHEAD_BYTES`` of their bytes, enough to prepare the next batch while one is embedded.
  A source is taken from the caller's iterable for each one handled, so the lookahead stays
  full while batches are embedded.
- The caller embeds pending chunks in shared batches of ``batch_chunks`` (the runtime releases
  the GIL); when it would otherwise wait for the worker with ``EARLY_FLUSH_CHUNKS`` chunks
  pending (the first batch), it embeds those first.
- A writer stores each embedded batch under the knowledge base's lock while the caller embeds
  the next one; one batch is in flight at a time.

Preparing ahead reads the registry without the lock, so each prepared source is checked again
under the lock before it is stored, and moved onto its document if that changed meanwhile
(another upload of the same source, or the same source twice in one call): ``settle``, which
never parses, so no parse runs under the lock. A source found unchanged ahead is reported
unchanged at once, unless the same source came earlier in the call (then it is looked at again
under the lock once this call's earlier writes are done, and prepared again outside it if it
changed). Results are reported (``on_done``) in the order of the sources, on the caller's
thread.

Sources that arrive slowly (a crawl of a slow or polite site) would wait for a full batch, or
for the end of the call, before they are searchable and reported: such a caller yields
``STORE_NOW`` among its sources when none has come for a while, and everything received so far
is embedded, stored and reported before the next one is taken.
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, Protocol

from ingest.sources import RawSource
from kb.errors import KBError
from kb.models import Chunk, Document, content_version

Outcome = Literal["created", "updated", "unchanged"]
# Sources parsed and chunked ahead of the one being handled: a batch's worth of small pages, so
# none is left to parse after its batch is embedded; bounded in bytes too (sources may be large
# files).
LOOKAHEAD = 256
LOOKAHEAD_BYTES = 64 << 20
# Pending chunks worth embedding at once rather than waiting idle for the worker.
EARLY_FLUSH_CHUNKS = 64


class Marker(Enum):
    """What a source iterable may yield besides sources."""

    STORE_NOW = "store_now"


# Yielded among the sources: embed, store and report everything received so far, now.
STORE_NOW: Final = Marker.STORE_NOW


@dataclass(frozen=True)
class Prepared:
    """A parsed, chunked source waiting for its vectors."""

    raw: RawSource
    digest: str
    doc_id: str
    title: str
    media_type: str
    chunks: list[Chunk]
    existing: Document | None
    # Per chunk, the token ids of what is embedded for it (``embedding_text``) when the
    # chunker knew them; empty: none known.
    token_ids: Sequence[Sequence[int] | None] = ()
    # The embedding model it was chunked for (the knowledge base's then) and its fingerprint;
    # None without per-knowledge-base models.
    model: str | None = None
    fingerprint: str | None = None

    @property
    def version(self) -> str:
        """The version its chunks are written under."""
        return content_version(self.digest)


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one source did."""

    document: Document
    outcome: Outcome


Report = Callable[[RawSource, IngestResult | KBError], None]
Done = tuple[int, RawSource, IngestResult | KBError]


class BatchSteps(Protocol):
    """What a batch run needs from the ingestion service."""

    def lock(self, kb_id: str) -> AbstractContextManager[object]:
        """The knowledge base's write lock."""

    def unchanged(self, kb_id: str, raw: RawSource) -> IngestResult | None:
        """The source's result if its stored document holds this content (under the lock)."""

    def prepare(self, kb_id: str, raw: RawSource) -> Prepared:
        """Parse and chunk a source (without the lock)."""

    def prepare_ahead(self, kb_id: str, raw: RawSource) -> Prepared | Document:
        """Parse and chunk a source without the lock; its stored document when unchanged."""

    def settle(self, prepared: Prepared, stored: Document | None) -> Prepared | IngestResult:
        """``prepared`` made current against the source's stored document (under the lock)."""

    def stored_by_source(self, kb_id: str, sources: list[str]) -> dict[str, Document]:
        """The documents stored for these sources, by source."""

    def vectors(self, kb_id: str, batch: list[Prepared]) -> list[list[float]]:
        """A vector per chunk of ``batch``, in order (no lock needed)."""

    def commit(
        self, kb_id: str, batch: list[Prepared], vectors: Sequence[Sequence[float]]
    ) -> list[IngestResult]:
        """Store prepared sources with their vectors (under the lock)."""


class BatchRun:
    """One ``ingest_many`` call: results by position, the batch waiting for vectors, the batch
    being written."""

    def __init__(
        self, steps: BatchSteps, kb_id: str, on_done: Report | None, batch_chunks: int
    ) -> None:
        self._steps = steps
        self._kb_id = kb_id
        self._on_done = on_done
        self._batch_chunks = batch_chunks
        self._results: dict[int, IngestResult | KBError] = {}
        self._unreported: dict[int, RawSource] = {}  # done, waiting for earlier sources
        self._reported = 0  # sources reported to ``on_done``, in order
        self._pending: list[tuple[int, Prepared]] = []
        self._seen: set[str] = set()
        self._writer: ThreadPoolExecutor | None = None
        self._writing: Future[list[Done]] | None = None

    def run(self, raws: Iterable[RawSource | Marker]) -> list[IngestResult | KBError]:
        """Ingest ``raws``; a source that fails is reported, not raised."""
        waiting: deque[tuple[int, RawSource, Future[Prepared | Document]]] = deque()
        in_flight = 0  # bytes of the sources in ``waiting``
        index = 0
        with (
            ThreadPoolExecutor(1, thread_name_prefix="ingest-prepare") as worker,
            ThreadPoolExecutor(1, thread_name_prefix="ingest-write") as self._writer,
        ):
            try:
                for raw in raws:
                    if raw is STORE_NOW:
                        self._finish(waiting)
                        in_flight = 0
                        continue
                    ahead = worker.submit(
                        contextvars.copy_context().run,
                        self._steps.prepare_ahead,
                        self._kb_id,
                        raw,
                    )
                    waiting.append((index, raw, ahead))
                    index += 1
                    in_flight += len(raw.data)
                    # At most one source handled per source taken, unless the lookahead is
                    # full: handling all that are ready would embed batch after batch while
                    # the worker, handed nothing new, sat idle, and leave it the last sources
                    # to parse at the end while the model waited.
                    while waiting and (len(waiting) > LOOKAHEAD or in_flight > LOOKAHEAD_BYTES):
                        in_flight -= len(waiting[0][1].data)
                        self._next(*waiting.popleft())
                    if waiting and waiting[0][2].done():
                        in_flight -= len(waiting[0][1].data)
                        self._next(*waiting.popleft())
                self._finish(waiting)
            finally:
                for _, _, ahead in waiting:
                    ahead.cancel()
        return [self._results[i] for i in sorted(self._results)]

    def _report(self, index: int, raw: RawSource, outcome: IngestResult | KBError) -> None:
        self._results[index] = outcome
        self._unreported[index] = raw
        while self._reported in self._unreported:
            source = self._unreported.pop(self._reported)
            if self._on_done:
                self._on_done(source, self._results[self._reported])
            self._reported += 1

    def _next(self, index: int, raw: RawSource, ahead: Future[Prepared | Document]) -> None:
        """Handle the next source; while it is still being prepared, embed what is pending."""
        if not ahead.done() and self._pending_chunks() >= EARLY_FLUSH_CHUNKS:
            self._flush()
        self._handle(index, raw, ahead)

    def _finish(self, waiting: deque[tuple[int, RawSource, Future[Prepared | Document]]]) -> None:
        """Handle every source received, store what is pending and report it all (waits for
        the writer)."""
        while waiting:
            self._next(*waiting.popleft())
        if self._pending:
            self._flush()
        self._drain()

    def _pending_chunks(self) -> int:
        return sum(len(p.chunks) for _, p in self._pending)

    def _handle(self, index: int, raw: RawSource, ahead: Future[Prepared | Document]) -> None:
        try:
            prepared: Prepared | Document = ahead.result()
        except KBError as exc:
            self._report(index, raw, exc)
            return
        again = raw.source in self._seen
        self._seen.add(raw.source)
        if any(p.raw.source == raw.source for _, p in self._pending):
            self._flush()  # the same source twice: the second must see the first's result
        # Unchanged when looked at ahead: that answer stands (this call's check came before
        # any write that followed it) unless an earlier copy of the same source in this call
        # was stored since, or new metadata must be saved.
        if isinstance(prepared, Document):
            if not again and (not raw.metadata or raw.metadata == prepared.metadata):
                self._report(index, raw, IngestResult(prepared, "unchanged"))
                return
            self._drain()  # this call's earlier writes first
            try:
                with self._steps.lock(self._kb_id):
                    unchanged = self._steps.unchanged(self._kb_id, raw)
                if unchanged is not None:
                    self._report(index, raw, unchanged)
                    return
                prepared = self._steps.prepare(self._kb_id, raw)  # outside the lock
            except KBError as exc:
                self._report(index, raw, exc)
                return
        self._pending.append((index, prepared))
        if self._pending_chunks() >= self._batch_chunks:
            self._flush()

    def _flush(self) -> None:
        """Embed the pending batch, then hand it to the writer once the previous one is
        stored."""
        batch, self._pending = self._pending, []
        vectors = self._steps.vectors(self._kb_id, [prepared for _, prepared in batch])
        self._drain()
        assert self._writer is not None
        self._writing = self._writer.submit(
            contextvars.copy_context().run, self._write, batch, vectors
        )

    def _drain(self) -> None:
        """Wait for the batch being written and report its sources (its errors raise here)."""
        writing, self._writing = self._writing, None
        if writing is not None:
            for done in writing.result():
                self._report(*done)

    def _write(self, batch: list[tuple[int, Prepared]], vectors: list[list[float]]) -> list[Done]:
        """Store an embedded batch under the lock (on the writer thread), each source settled
        against its document as stored now."""
        done: list[Done] = []
        current: list[tuple[int, Prepared, list[list[float]]]] = []
        with self._steps.lock(self._kb_id):
            stored = self._steps.stored_by_source(
                self._kb_id, [prepared.raw.source for _, prepared in batch]
            )
            offset = 0
            for index, prepared in batch:
                own = vectors[offset : offset + len(prepared.chunks)]
                offset += len(prepared.chunks)
                settled = self._steps.settle(prepared, stored.get(prepared.raw.source))
                if isinstance(settled, IngestResult):
                    done.append((index, prepared.raw, settled))
                else:
                    current.append((index, settled, own))
            if current:
                results = self._steps.commit(
                    self._kb_id,
                    [prepared for _, prepared, _ in current],
                    [vector for _, _, own in current for vector in own],
                )
                done += [
                    (index, prepared.raw, result)
                    for (index, prepared, _), result in zip(current, results, strict=True)
                ]
        return done
