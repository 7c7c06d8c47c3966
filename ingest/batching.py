"""Ingesting many sources in one call: parsed and chunked ahead on a worker thread, embedded and
stored in shared batches on the caller's thread.

Sources are prepared ``LOOKAHEAD`` ahead of the one being embedded (the embedding runtime
releases the GIL). Preparing ahead reads the registry without the knowledge base's lock, so each
prepared source is checked again under the lock before it is stored, and prepared again if its
document changed meanwhile (another upload of the same source, or the same source twice in one
call). A source found unchanged ahead is reported unchanged at once, unless the same source came
earlier in the call (then it is looked at again under the lock).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from ingest.sources import RawSource
from kb.errors import KBError
from kb.models import Chunk, Document

Outcome = Literal["created", "updated", "unchanged"]
# Sources parsed and chunked ahead of the one being embedded.
LOOKAHEAD = 32


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


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one source did."""

    document: Document
    outcome: Outcome


Report = Callable[[RawSource, IngestResult | KBError], None]


class BatchSteps(Protocol):
    """What a batch run needs from the ingestion service."""

    def lock(self, kb_id: str) -> AbstractContextManager[object]:
        """The knowledge base's write lock."""

    def prepare(self, kb_id: str, raw: RawSource) -> Prepared | IngestResult:
        """Parse and chunk a source, or report it unchanged (under the lock)."""

    def prepare_ahead(self, kb_id: str, raw: RawSource) -> Prepared | Document:
        """Parse and chunk a source without the lock; its stored document when unchanged."""

    def stored_by_source(self, kb_id: str, sources: list[str]) -> dict[str, Document]:
        """The documents stored for these sources, by source."""

    def store(self, kb_id: str, batch: list[Prepared]) -> list[IngestResult]:
        """Embed and store prepared sources (under the lock)."""


class BatchRun:
    """One ``ingest_many`` call: results by position, the batch waiting for vectors."""

    def __init__(
        self, steps: BatchSteps, kb_id: str, on_done: Report | None, batch_chunks: int
    ) -> None:
        self._steps = steps
        self._kb_id = kb_id
        self._on_done = on_done
        self._batch_chunks = batch_chunks
        self._results: dict[int, IngestResult | KBError] = {}
        self._pending: list[tuple[int, Prepared]] = []
        self._seen: set[str] = set()

    def run(self, raws: Iterable[RawSource]) -> list[IngestResult | KBError]:
        """Ingest ``raws``; a source that fails is reported, not raised."""
        waiting: deque[tuple[int, RawSource, Future[Prepared | Document]]] = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="ingest-prepare") as worker:
            try:
                for index, raw in enumerate(raws):
                    ahead = worker.submit(self._steps.prepare_ahead, self._kb_id, raw)
                    waiting.append((index, raw, ahead))
                    while waiting and (len(waiting) > LOOKAHEAD or waiting[0][2].done()):
                        self._handle(*waiting.popleft())
                while waiting:
                    self._handle(*waiting.popleft())
            finally:
                for _, _, ahead in waiting:
                    ahead.cancel()
        with self._steps.lock(self._kb_id):
            if self._pending:
                self._flush()
        return [self._results[i] for i in sorted(self._results)]

    def _report(self, index: int, raw: RawSource, outcome: IngestResult | KBError) -> None:
        self._results[index] = outcome
        if self._on_done:
            self._on_done(raw, outcome)

    def _handle(self, index: int, raw: RawSource, ahead: Future[Prepared | Document]) -> None:
        try:
            prepared: Prepared | IngestResult | Document = ahead.result()
        except KBError as exc:
            self._report(index, raw, exc)
            return
        again = raw.source in self._seen
        self._seen.add(raw.source)
        with self._steps.lock(self._kb_id):
            if any(p.raw.source == raw.source for _, p in self._pending):
                self._flush()  # the same source twice: the second must see the first's result
            # Unchanged when looked at ahead: that answer stands (this call's check came before
            # any write that followed it) unless an earlier copy of the same source in this call
            # was stored since, or new metadata must be saved.
            if isinstance(prepared, Document):
                if not again and (not raw.metadata or raw.metadata == prepared.metadata):
                    self._report(index, raw, IngestResult(prepared, "unchanged"))
                    return
                try:
                    prepared = self._steps.prepare(self._kb_id, raw)
                except KBError as exc:
                    self._report(index, raw, exc)
                    return
            if isinstance(prepared, IngestResult):
                self._report(index, raw, prepared)
                return
            self._pending.append((index, prepared))
            if sum(len(p.chunks) for _, p in self._pending) >= self._batch_chunks:
                self._flush()

    def _flush(self) -> None:
        """Store the pending batch (under the lock), preparing again what changed meanwhile."""
        current: list[tuple[int, Prepared]] = []
        stored = self._steps.stored_by_source(
            self._kb_id, [prepared.raw.source for _, prepared in self._pending]
        )
        for index, prepared in self._pending:
            if stored.get(prepared.raw.source) == prepared.existing:
                current.append((index, prepared))
                continue
            try:
                again = self._steps.prepare(self._kb_id, prepared.raw)
            except KBError as exc:
                self._report(index, prepared.raw, exc)
                continue
            if isinstance(again, IngestResult):
                self._report(index, prepared.raw, again)
            else:
                current.append((index, again))
        self._pending.clear()
        if not current:
            return
        results = self._steps.store(self._kb_id, [prepared for _, prepared in current])
        for (index, prepared), result in zip(current, results, strict=True):
            self._report(index, prepared.raw, result)
