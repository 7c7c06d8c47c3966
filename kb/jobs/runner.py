"""Runs one job where a backend delivered it: claim, heartbeat, handler, finish.

Running a job twice is safe: the claim is a conditional update, so a message delivered again
(Celery's late acknowledgement after a worker was lost, or the sweeper's requeue) finds the job
running under another live lease, or ended, and does nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Literal

from kb.jobs.handlers import Handlers, JobContext
from kb.jobs.repository import JobRepository

log = logging.getLogger(__name__)
Outcome = Literal["succeeded", "failed", "cancelled", "skipped"]


@dataclass(frozen=True)
class LeaseTimes:
    """How long a claim holds without renewal, and how often a running job renews it."""

    lease_s: float = 30.0
    heartbeat_s: float = 5.0
    max_attempts: int = 3


class JobRunner:
    """Runs jobs by id with their kind's handler, under a lease renewed by a heartbeat thread."""

    def __init__(
        self, repository: JobRepository, handlers: Handlers, times: LeaseTimes | None = None
    ) -> None:
        self._repo = repository
        self._handlers = handlers
        self.times = times or LeaseTimes()

    def run(self, job_id: str) -> Outcome:
        """Run the job if it can be claimed; how it ended ("skipped": not ours to run)."""
        job = self._repo.claim(job_id, self.times.lease_s)
        if job is None:
            log.info("job %s: not claimable (running elsewhere or ended)", job_id)
            return "skipped"
        handler = self._handlers.get(job.kind)
        if handler is None:
            self._repo.finish(job.id, "failed", error=f"no handler for jobs of kind {job.kind!r}")
            return "failed"
        context = JobContext(job, counts=dict(job.counts))
        stop = threading.Event()
        beat = threading.Thread(
            target=self._beat, args=(context, stop), name=f"job-{job.id}", daemon=True
        )
        beat.start()
        try:
            counts = handler(context)
        except Exception as exc:
            log.exception("job %s (%s) failed", job.id, job.kind)
            stop.set()
            beat.join()
            error = f"{type(exc).__name__}: {exc}"
            self._repo.finish(job.id, "failed", context.counts, error, attempt=job.attempts)
            return "failed"
        stop.set()
        beat.join()
        final = counts if counts is not None else context.counts
        if context.cancel.is_set():
            self._repo.finish(job.id, "cancelled", final, attempt=job.attempts)
            return "cancelled"
        self._repo.finish(job.id, "succeeded", final, attempt=job.attempts)
        return "succeeded"

    def _beat(self, context: JobContext, stop: threading.Event) -> None:
        """Renew the lease until the handler returns; a job no longer running is cancelled."""
        while not stop.wait(self.times.heartbeat_s):
            try:
                alive = self._repo.heartbeat(
                    context.job.id, self.times.lease_s, context.counts, context.job.attempts
                )
            except Exception:
                log.exception("job %s: heartbeat failed", context.job.id)
                continue
            if not alive:
                log.info("job %s was cancelled or taken over: stopping it", context.job.id)
                context.cancel.set()
                return
