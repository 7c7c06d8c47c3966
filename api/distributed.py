"""The composition root's part for background work: the job queue, its handlers, the event
outbox and the schedule, in the embedded default or the distributed setup (a broker is set)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from api.webhooks.delivery import WebhookDispatcher
from ingest.crawl import CrawlService
from ingest.pipeline.queued import KIND as UPLOAD_KIND
from ingest.pipeline.queued import QueuedUploads
from ingest.pipeline.reindex import ReindexService
from ingest.pipeline.service import IngestionService
from kb.db.registry import Registry
from kb.jobs import Handlers, InProcessQueue, JobRepository, JobRunner, Jobs
from kb.jobs.blobs import JobBlobs
from kb.jobs.locks import KbLocks
from kb.jobs.runner import LeaseTimes
from kb.jobs.schedule import Entry, Scheduler
from kb.runtime.events import EventBus
from kb.settings import Settings
from kb.webhooks.outbox import DeliveryClaims, Outbox

log = logging.getLogger(__name__)


class SharedKeysMissing(RuntimeError):
    """The distributed setup needs keys every process shares."""


@dataclass
class BackgroundWork:
    """Jobs, the outbox (distributed only) and the schedule of periodic work."""

    jobs: Jobs
    scheduler: Scheduler
    # Uploads ingested as jobs (POST .../documents?wait=false).
    uploads: QueuedUploads
    outbox: Outbox | None = None

    def close(self) -> None:
        """Stop the schedule, then the job backend."""
        self.scheduler.stop()
        self.jobs.close()


def build_jobs(settings: Settings, registry: Registry) -> Jobs:
    """The job queue: Celery when ``KB_JOBS__BROKER_URL`` is set, threads here otherwise."""
    config = settings.jobs
    repository = JobRepository(registry.engine)
    handlers = Handlers()
    runner = JobRunner(
        repository, handlers, LeaseTimes(config.lease_s, config.heartbeat_s, config.max_attempts)
    )
    if config.broker_url:
        _check_shared_keys(settings)
        from kb.jobs.celery_queue import CeleryQueue, celery_app

        app = celery_app(config.broker_url, config.visibility_timeout_s)
        backend = CeleryQueue(repository, app)
        return Jobs(repository, backend, handlers, runner, config.visibility_timeout_s)
    # In-process, a queued job older than a few leases was left by a previous process (a
    # duplicate on this process's threads only finds it claimed): sent again soon.
    backend_here = InProcessQueue(repository, runner, config.workers)
    return Jobs(repository, backend_here, handlers, runner, config.lease_s * 4)


def _check_shared_keys(settings: Settings) -> None:
    security = settings.security
    missing = [
        name
        for name, value in (
            ("KB_SECURITY__TOKEN_SIGNING_KEY", security.token_signing_key),
            ("KB_SECURITY__ENCRYPTION_KEYS", security.encryption_keys),
        )
        if value is None
    ]
    if missing:
        raise SharedKeysMissing(
            f"KB_JOBS__BROKER_URL is set (several processes): set {' and '.join(missing)} to "
            "the same value in every API replica and worker (docs/configuration.md)."
        )
    if settings.security.rate_limit_storage.startswith("memory://"):
        log.warning(
            "KB_JOBS__BROKER_URL is set but rate limits are counted per process; set "
            "KB_SECURITY__RATE_LIMIT_STORAGE=redis://... so they hold over all replicas"
        )


def events_to_outbox(
    settings: Settings, registry: Registry, events: EventBus, dispatcher: WebhookDispatcher
) -> Outbox | None:
    """In the distributed setup, events go to the outbox (drained by workers); embedded, the
    dispatcher stores their deliveries at once, as before."""
    if not settings.jobs.broker_url:
        events.subscribe(dispatcher.on_event)
        return None
    outbox = Outbox(registry.engine)
    events.subscribe(outbox.write)
    return outbox


def delivery_claims(settings: Settings, registry: Registry) -> DeliveryClaims | None:
    """Claims that keep two processes from sending one delivery (distributed setup only)."""
    if not settings.jobs.broker_url:
        return None
    # An attempt takes at most twice the timeout; the claim outlasts it.
    return DeliveryClaims(registry.engine, settings.webhook.timeout_s * 2 + 5)


def shared_locks(settings: Settings, registry: Registry) -> KbLocks | None:
    """Knowledge-base write locks held across processes (distributed setup on PostgreSQL)."""
    if settings.jobs.broker_url and registry.engine.dialect.name == "postgresql":
        return KbLocks(registry.engine)
    return None


def build_background(
    settings: Settings,
    registry: Registry,
    jobs: Jobs,
    outbox: Outbox | None,
    dispatcher: WebhookDispatcher,
    *,
    crawls: CrawlService,
    reindex: ReindexService,
    ingestion: IngestionService,
) -> BackgroundWork:
    """Register the job handlers and schedule the periodic work."""
    jobs.register("crawl", crawls.run_job)
    if not jobs.distributed:  # crawls run on their own threads here: shown as jobs too
        jobs.add_lookup(crawls.as_job)
    jobs.register("reindex", reindex.run_job)
    uploads = QueuedUploads(registry, ingestion, jobs, JobBlobs(registry.engine))
    jobs.register(UPLOAD_KIND, uploads.run_job)

    def sweep() -> None:
        jobs.sweep()
        crawls.settle_orphans()

    entries = [Entry("jobs.sweep", settings.jobs.sweep_interval_s, sweep)]
    if outbox is not None:

        def drain() -> None:
            if outbox.drain():
                dispatcher.wake()

        entries.append(Entry("outbox.drain", settings.jobs.outbox_drain_s, drain))
    return BackgroundWork(jobs, Scheduler(registry.engine, entries), uploads, outbox)
