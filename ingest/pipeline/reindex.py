"""Re-indexing a knowledge base with another embedding model, while the old index serves.

A job builds a second Chroma collection, tagged with the new model, from the chunks stored
already (texts from the lexical index, metadata from the live collection: no document is
parsed or chunked again), then switches the registry to it in one transaction and drops the
old collection. Until the switch, searches and answers use the old index and model.

Uploads during the job go to the old index only; the job catches up at the end: it compares
the new collection with the registry's live versions and embeds what is missing (documents
added or changed meanwhile) and removes what is stale, first without the lock until little
is left, then once more under the knowledge base's write lock, where it switches. Ingestion
embeds a source for the model its knowledge base has when the source is prepared, and embeds
it again under the lock if the switch came in between (``ingest.pipeline.service``).

A job that fails or is cancelled drops its collection; the old index never stopped serving.
A job whose process died (no heartbeat for ``stale_after_s``) is marked failed, and its
collection dropped, when its knowledge base's jobs are next looked at.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.pipeline.service import embedding_text
from kb.db.indexes import EmbeddingIndex, IndexRecords, ReindexJob
from kb.db.registry import Registry
from kb.embeddings.base import Embedder
from kb.errors import InvalidInput
from kb.index.vectors import VectorStore
from kb.index_models import IndexModels
from kb.jobs import JobContext, Jobs
from kb.models import chunk_id
from kb.runtime.priority import lower_thread_priority

log = logging.getLogger(__name__)

Lock = Callable[[str], AbstractContextManager[object]]
Versions = dict[tuple[str, str], int]  # (document, version) -> chunk count
# Chunks left to copy that are worth taking the write lock for (uploads wait meanwhile).
CATCH_UP_UNDER_LOCK = 256


class _Cancelled(Exception):
    pass


class ReindexService:
    """Starts, follows and cancels re-index jobs; each runs on a thread of its own."""

    def __init__(
        self,
        registry: Registry,
        indexes: IndexModels,
        store: VectorStore,
        lock: Lock,
        nice: int = 0,
        batch_chunks: int = 64,
        stale_after_s: float = 120.0,
        jobs: Jobs | None = None,
    ) -> None:
        self._registry = registry
        # Set and distributed: re-indexes are queued as jobs for ``kb worker`` processes; one
        # whose worker died resumes on another (``_diff`` copies only what the new collection
        # still lacks).
        self._queue = jobs if jobs is not None and jobs.distributed else None
        self._indexes = indexes
        self._records: IndexRecords = indexes.records
        self._store = store
        self._lock = lock
        self._nice = nice
        self._batch = batch_chunks
        self._stale_after = timedelta(seconds=stale_after_s)
        self._threads: dict[str, threading.Thread] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._guard = threading.Lock()

    def start(self, kb_id: str, model: str) -> ReindexJob:
        """Queue a re-index of the knowledge base with ``model``; 409 ``reindex_in_progress``
        while one runs."""
        self._registry.get_kb(kb_id, counts=False)
        if not model.strip():
            raise InvalidInput("Name the embedding model to re-index with.")
        self._expire_stale(kb_id)
        self._indexes.pool.describe(model)  # an unknown model is refused here, not in the job
        job = self._records.start_job(kb_id, model, f"{kb_id}-{secrets.token_hex(4)}")
        if self._queue is not None:
            self._queue.submit("reindex", {"reindex_id": job.id}, kb_id=kb_id, job_id=job.id)
            return job
        cancel = threading.Event()
        thread = threading.Thread(target=self._run, args=(job, cancel), name=f"reindex-{kb_id}")
        with self._guard:
            self._threads[job.id], self._cancels[job.id] = thread, cancel
        thread.start()
        return job

    def run_job(self, context: JobContext) -> dict[str, Any]:
        """Run a queued re-index here (the ``reindex`` job handler of ``kb worker``); raises
        when it failed, so the job is recorded failed too."""
        kb_id = context.job.kb_id or ""
        job = self._records.get_job(kb_id, context.payload["reindex_id"])
        if job.status in ("queued", "running"):
            self._run(job, context.cancel)
        ended = self._records.get_job(kb_id, job.id)
        if ended.status == "failed":
            raise RuntimeError(ended.error or "the re-index failed")
        return {"done": ended.done, "total": ended.total}

    def get(self, kb_id: str, job_id: str) -> ReindexJob:
        """A job's state and progress."""
        self._expire_stale(kb_id)
        return self._records.get_job(kb_id, job_id)

    def list_jobs(self, kb_id: str) -> list[ReindexJob]:
        """The knowledge base's jobs, newest first."""
        self._registry.get_kb(kb_id, counts=False)
        self._expire_stale(kb_id)
        return self._records.jobs(kb_id)

    def cancel(self, kb_id: str, job_id: str) -> ReindexJob:
        """Ask a running job to stop (the old index stays); it ends ``cancelled`` shortly."""
        job = self._records.get_job(kb_id, job_id)
        with self._guard:
            cancel = self._cancels.get(job_id)
        if cancel is not None:
            cancel.set()
        if self._queue is not None:
            self._queue.cancel(job_id)  # its worker stops at the next heartbeat
        return job

    def wait(self, job_id: str, timeout: float | None = None) -> bool:
        """Whether the job's thread (in this process) has ended within ``timeout``."""
        with self._guard:
            thread = self._threads.get(job_id)
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def close(self) -> None:
        """Cancel running jobs and wait for them (their collections are dropped)."""
        with self._guard:
            running = list(self._threads.items())
        for job_id, _ in running:
            self._cancels[job_id].set()
        for _, thread in running:
            thread.join()

    # -- the job ---------------------------------------------------------------------------

    def _run(self, job: ReindexJob, cancel: threading.Event) -> None:
        lower_thread_priority(self._nice)
        try:
            self._build(job, cancel)
        except _Cancelled:
            self._abandon(job, "cancelled", None)
        except Exception as exc:
            log.exception("re-index %s of %s failed", job.id, job.kb_id)
            self._abandon(job, "failed", getattr(exc, "detail", None) or str(exc))
        finally:
            with self._guard:
                self._threads.pop(job.id, None)
                self._cancels.pop(job.id, None)

    def _abandon(self, job: ReindexJob, status: str, error: str | None) -> None:
        self._store.drop_collection(job.collection)
        try:
            self._records.update_job(job.id, status=status, error=error)
        except Exception:  # the knowledge base was deleted meanwhile
            log.info("re-index %s ended with its knowledge base gone", job.id)

    def _build(self, job: ReindexJob, cancel: threading.Event) -> None:
        kb_id = job.kb_id
        self._records.update_job(job.id, status="running")
        embedder = self._indexes.pool.get(job.model)
        fingerprint, dimension = self._indexes.pool.describe(job.model)
        target = EmbeddingIndex(kb_id, job.model, fingerprint, dimension, job.collection)
        self._store.create_collection(job.collection, job.model, fingerprint, dimension)
        progress = _Progress(self._records, job.id)
        missing = self._live(kb_id)
        progress.grow(sum(missing.values()))
        for _ in range(4):  # catch up without the lock while uploads keep coming
            self._copy(target, embedder, missing, cancel, progress)
            missing, _stale = self._diff(target)
            if sum(missing.values()) <= CATCH_UP_UNDER_LOCK:
                break
            progress.grow(sum(missing.values()))
        with self._lock(kb_id):
            missing, stale = self._diff(target)
            progress.grow(sum(missing.values()))
            self._copy(target, embedder, missing, cancel, progress)
            for doc_id, version in stale:
                self._store.delete_version(kb_id, doc_id, version, collection=target.collection)
            old = self._indexes.index_of(kb_id)
            self._records.switch(target, job.id)
        if old.collection != target.collection:
            self._store.drop_collection(old.collection)
        log.info("re-indexed %s with %s (%d chunks)", kb_id, job.model, progress.done)

    def _live(self, kb_id: str) -> Versions:
        """The live version of each ready document and its chunk count."""
        live: Versions = {}
        offset = 0
        while True:
            docs, total = self._registry.list_documents(kb_id, 1000, offset)
            live.update(((d.id, d.version), d.chunk_count) for d in docs if d.status == "ready")
            offset += len(docs)
            if not docs or offset >= total:
                return live

    def _diff(self, target: EmbeddingIndex) -> tuple[Versions, list[tuple[str, str]]]:
        """Live versions the new collection lacks (or holds partly), and versions it holds
        that are no longer live."""
        live = self._live(target.kb_id)
        present = self._store.versions(target.kb_id, collection=target.collection)
        missing = {key: n for key, n in live.items() if present.get(key) != n}
        return missing, [key for key in present if key not in live]

    def _copy(
        self,
        target: EmbeddingIndex,
        embedder: Embedder,
        versions: Versions,
        cancel: threading.Event,
        progress: _Progress,
    ) -> None:
        """Embed the chunks of these versions with the new model into the new collection."""
        ids = [chunk_id(d, v, i) for (d, v), n in versions.items() for i in range(n)]
        for start in range(0, len(ids), self._batch):
            if cancel.is_set():
                raise _Cancelled
            # From the live collection: metadata there, texts from the lexical index.
            chunks = [c for c, _ in self._store.get(target.kb_id, ids[start : start + self._batch])]
            if chunks:
                vectors = embedder.embed([embedding_text(c) for c in chunks])
                self._store.add(
                    target.kb_id,
                    chunks,
                    vectors,
                    collection=target.collection,
                    embedded_by=target.fingerprint,
                )
            progress.advance(len(ids[start : start + self._batch]))

    def _expire_stale(self, kb_id: str) -> None:
        """Mark failed an active job no thread here runs and no heartbeat shows alive."""
        job = self._records.active_job(kb_id)
        if job is None:
            return
        with self._guard:
            if job.id in self._threads:
                return
        if datetime.now(UTC) - job.heartbeat_at < self._stale_after:
            return
        self._abandon(job, "failed", "interrupted: the process running it stopped")


class _Progress:
    """Counts of a job, written to its record (each write is a heartbeat)."""

    def __init__(self, records: IndexRecords, job_id: str) -> None:
        self._records, self._job_id = records, job_id
        self.done = self.total = 0

    def grow(self, more: int) -> None:
        self.total = max(self.total, self.done + more)
        self._records.update_job(self._job_id, total=self.total, done=self.done)

    def advance(self, n: int) -> None:
        self.done = min(self.done + n, self.total) if self.total else self.done + n
        self._records.update_job(self._job_id, done=self.done)
