"""Crawl jobs: start in the background, report progress, cancel, stop with the service."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from ingest.crawl.options import CrawlOptions, build_options
from ingest.crawl.runner import CrawlDeps, CrawlRunner
from kb.db.crawls import ACTIVE, CrawlCounts, CrawlJob, CrawlStatus
from kb.errors import CrawlFinished, CrawlInProgress, UrlRefused
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


class CrawlService:
    """Starts, reports on and cancels crawls; crawls run on a small pool of threads."""

    def __init__(self, deps: CrawlDeps) -> None:
        self._deps = deps
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
        """Fail crawls a previous process left queued or running (call once at startup)."""
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
            self._live[job.id] = _Live(kb_id)
        self._executor.submit(self._run, job)
        return job

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
        live = self._live.get(crawl_id)
        if job.status not in ACTIVE or live is None:
            raise CrawlFinished(f"Crawl {crawl_id!r} has already ended ({job.status}).")
        live.cancel.set()
        live.finished.wait(CANCEL_WAIT_S)
        return self.get(kb_id, crawl_id)

    def wait(self, crawl_id: str, timeout: float | None = None) -> bool:
        """Block until a crawl of this process ends; False on timeout."""
        live = self._live.get(crawl_id)
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
