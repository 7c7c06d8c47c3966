"""Crawl jobs: start in the background, report progress, cancel, stop with the service.

Embedded, crawls run on this process's threads. Given a distributed job queue (``kb.jobs``),
``start`` queues a ``crawl`` job (its id is the crawl's) that a ``kb worker`` runs through
``run_job``; a crawl whose worker died is run again from its start URLs by another: pages
already ingested come out ``unchanged`` (content hashes), so none is ingested twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ingest.crawl.options import CrawlOptions, build_options
from ingest.crawl.runner import CrawlDeps, CrawlRunner
from kb.db.crawls import ACTIVE, CrawlCounts, CrawlJob, CrawlStatus
from kb.errors import CrawlFinished, CrawlInProgress, UrlRefused
from kb.jobs import Job, JobContext, Jobs, JobStatus
from kb.net.addresses import AddressPolicy, AddressRefused
from kb.runtime.priority import lower_thread_priority

log = logging.getLogger(__name__)
# How long DELETE waits for a cancelled crawl to wind down before answering anyway.
CANCEL_WAIT_S = 5.0


@dataclass
class _Live:
    """A crawl this process runs: its cancel switch and latest counts."""

    kb_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    counts: CrawlCounts | None = None
    report: Callable[[dict[str, Any]], None] | None = None  # a queued job's progress


class CrawlService:
    """Starts, reports on and cancels crawls; crawls run on a small pool of threads."""

    def __init__(self, deps: CrawlDeps, jobs: Jobs | None = None) -> None:
        self._deps = deps
        # Set and distributed: crawls are queued as jobs for ``kb worker`` processes.
        self._queue = jobs if jobs is not None and jobs.distributed else None
        self._jobs = deps.pages
        # Crawls are background work: their threads (and the fetch and ingest threads each
        # crawl starts, which inherit it) run at ingestion's lower priority (kb.runtime.priority).
        self._executor = ThreadPoolExecutor(
            deps.settings.max_parallel_crawls,
            "crawl",
            initializer=lower_thread_priority,
            initargs=(deps.ingestion.background_nice,),
        )
        self._live: dict[str, _Live] = {}
        self._lock = threading.Lock()

    def recover(self) -> None:
        """Fail crawls a previous process left queued or running (call once at startup).
        Not when crawls are queued jobs: the lease sweeper hands those to another worker."""
        if self._queue is not None:
            return
        if count := self._jobs.fail_interrupted():
            log.warning("marked %d interrupted crawl(s) as failed", count)

    def start(self, kb_id: str, start_urls: list[str], **options: Any) -> CrawlJob:
        """Validate and queue a crawl; it runs in the background.

        Raises KnowledgeBaseNotFound, UrlRefused (scheme or address refused), InvalidInput
        and CrawlInProgress (the knowledge base already has an active crawl).
        """
        self._deps.registry.get_kb(kb_id)
        crawl_options = build_options(self._deps.settings, start_urls, **options)
        self._check_addresses(crawl_options)
        with self._lock:
            active = self._jobs.active_job(kb_id)
            if active is not None or any(live.kb_id == kb_id for live in self._live.values()):
                raise CrawlInProgress(
                    f"Knowledge base {kb_id!r} already has an active crawl.",
                    crawl_id=active.id if active else None,
                )
            job = self._jobs.create_job(kb_id, crawl_options.to_dict())
            if self._queue is None:
                self._live[job.id] = _Live(kb_id)
        if self._queue is not None:
            self._queue.submit("crawl", {"crawl_id": job.id}, kb_id=kb_id, job_id=job.id)
        else:
            self._executor.submit(self._run, job)
        return job

    def run_job(self, context: JobContext) -> dict[str, Any]:
        """Run a queued crawl here (the ``crawl`` job handler of ``kb worker``); its counts.
        Raises when the crawl failed, so the job is recorded failed too."""
        kb_id = context.job.kb_id or ""
        job = self._jobs.get_job(kb_id, context.payload["crawl_id"])
        if job.status not in ACTIVE:
            return job.counts.to_dict()  # ended (cancelled) before a worker took it
        live = _Live(kb_id, cancel=context.cancel, report=context.progress)
        with self._lock:
            self._live[job.id] = live
        self._run(job)
        ended = self._jobs.get_job(kb_id, job.id)
        if ended.status == "failed":
            raise RuntimeError(ended.error or "the crawl failed")
        return ended.counts.to_dict()

    def as_job(self, crawl_id: str) -> Job | None:
        """A crawl of this process shown as a job (``GET /v1/jobs/{id}`` in the embedded
        default, where crawls run on threads here, not through the queue)."""
        found = self._jobs.find_job(crawl_id)
        if found is None:
            return None
        live = self._live.get(crawl_id)
        counts = live.counts if live is not None and live.counts is not None else found.counts
        status: JobStatus = {"done": "succeeded"}.get(found.status, found.status)  # type: ignore[assignment]
        return Job(
            id=found.id,
            kind="crawl",
            kb_id=found.kb_id,
            status=status,
            payload={"crawl_id": found.id},
            counts=counts.to_dict(),
            attempts=0 if found.started_at is None else 1,
            error=found.error,
            created_at=found.created_at,
            updated_at=found.finished_at or found.started_at or found.created_at,
        )

    def settle_orphans(self) -> int:
        """Fail the active crawls whose job ended without them (their workers kept dying)."""
        if self._queue is None:
            return 0
        settled = 0
        for crawl in self._jobs.active_jobs():
            found = self._queue.repository.find(crawl.id)
            if found is None or not found.finished:
                continue
            ended: CrawlStatus = "cancelled" if found.status == "cancelled" else "failed"
            self._jobs.update_job(crawl.id, status=ended, error=found.error)
            settled += 1
        return settled

    def get(self, kb_id: str, crawl_id: str) -> CrawlJob:
        """A crawl with its latest counts."""
        self._deps.registry.get_kb(kb_id)
        job = self._jobs.get_job(kb_id, crawl_id)
        live = self._live.get(crawl_id)
        if live is not None and live.counts is not None and job.status in ACTIVE:
            job = replace(job, counts=live.counts)
        return job

    def list_jobs(
        self, kb_id: str, limit: int = 100, offset: int = 0
    ) -> tuple[list[CrawlJob], int]:
        """A page of a knowledge base's crawls, newest first."""
        self._deps.registry.get_kb(kb_id)
        return self._jobs.list_jobs(kb_id, limit, offset)

    def cancel(self, kb_id: str, crawl_id: str) -> CrawlJob:
        """Stop a queued or running crawl; pages already ingested stay."""
        job = self.get(kb_id, crawl_id)
        if self._queue is not None:
            return self._cancel_queued(job)
        live = self._live.get(crawl_id)
        if job.status not in ACTIVE or live is None:
            raise CrawlFinished(f"Crawl {crawl_id!r} has already ended ({job.status}).")
        live.cancel.set()
        live.finished.wait(CANCEL_WAIT_S)
        return self.get(kb_id, crawl_id)

    def _cancel_queued(self, job: CrawlJob) -> CrawlJob:
        """Cancel a crawl run by a worker: its job is cancelled, which the worker sees at its
        next heartbeat; a crawl no worker has started yet ends at once."""
        if job.status not in ACTIVE or self._queue is None:
            raise CrawlFinished(f"Crawl {job.id!r} has already ended ({job.status}).")
        self._queue.cancel(job.id)
        if job.status == "queued":
            self._jobs.update_job(job.id, status="cancelled")
        deadline = time.monotonic() + CANCEL_WAIT_S
        while time.monotonic() < deadline:
            found = self._jobs.get_job(job.kb_id, job.id)
            if found.status not in ACTIVE:
                return found
            time.sleep(0.1)
        return self._jobs.get_job(job.kb_id, job.id)

    def wait(self, crawl_id: str, timeout: float | None = None) -> bool:
        """Block until a crawl of this process (or, distributed, of a worker) ends; False on
        timeout."""
        live = self._live.get(crawl_id)
        if live is None and self._queue is not None:
            deadline = None if timeout is None else time.monotonic() + timeout
            while (found := self._jobs.find_job(crawl_id)) is not None and found.status in ACTIVE:
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                time.sleep(0.2)
            return True
        return live is None or live.finished.wait(timeout)

    def shutdown(self) -> None:
        """Cancel every crawl and wait for the threads to stop."""
        with self._lock:
            lives = list(self._live.items())
        for _crawl_id, live in lives:
            live.cancel.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for crawl_id, _live in lives:
            # Crawls still queued never started: record that they will not.
            self._finish(crawl_id, "cancelled", None, "the service stopped")

    def _check_addresses(self, options: CrawlOptions) -> None:
        policy = AddressPolicy(self._deps.settings.allowed_hosts)
        for url in options.start_urls:
            try:
                policy.addresses(url)
            except AddressRefused as exc:
                raise UrlRefused(f"{url}: {exc.reason}", url=url) from exc

    def _run(self, job: CrawlJob) -> None:
        live = self._live[job.id]
        status: CrawlStatus = "cancelled"
        error: str | None = None
        try:
            if live.cancel.is_set():
                return
            self._jobs.update_job(job.id, status="running")
            runner = CrawlRunner(
                job.kb_id,
                CrawlOptions.from_dict(job.options),
                self._deps,
                live.cancel,
                on_progress=lambda counts: self._progress(job.id, live, counts),
            )
            counts = runner.run()
            live.counts = counts
            status, error = _verdict(counts, live.cancel.is_set())
        except Exception as exc:
            log.exception("crawl %s failed", job.id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(job.id, status, live.counts, error)

    def _progress(self, crawl_id: str, live: _Live, counts: CrawlCounts) -> None:
        live.counts = counts
        self._jobs.update_job(crawl_id, counts=counts)
        if live.report is not None:
            live.report(counts.to_dict())

    def _finish(
        self, crawl_id: str, status: CrawlStatus, counts: CrawlCounts | None, error: str | None
    ) -> None:
        with self._lock:
            live = self._live.pop(crawl_id, None)
        if live is None:
            return
        self._jobs.update_job(crawl_id, status=status, counts=counts, error=error)
        if self._deps.events is not None:
            self._deps.events.publish(
                "crawl.completed",
                {
                    "kb_id": live.kb_id,
                    "crawl_id": crawl_id,
                    "status": status,
                    "error": error,
                    "counts": counts.to_dict() if counts else None,
                },
            )
        live.finished.set()


def _verdict(counts: CrawlCounts, cancelled: bool) -> tuple[CrawlStatus, str | None]:
    if cancelled:
        return "cancelled", None
    if counts.fetched == 0:
        reasons = {**counts.skipped, **counts.failed}
        summary = ", ".join(f"{reason}: {n}" for reason, n in sorted(reasons.items()))
        return "failed", f"no page could be fetched ({summary or 'nothing to crawl'})"
    return "done", None
