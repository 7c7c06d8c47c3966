"""The distributed backend: Celery on the configured broker (Redis by default).

The API only sends ``kb.run_job(job_id)`` messages; ``kb worker`` processes run them with the
container's handlers. Tasks are acknowledged late and rejected when their worker is lost, and
each worker takes one message at a time, so a job whose worker is killed is delivered again;
the lease sweeper (``kb.jobs.service``) also queues it again should the broker not.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from kb.jobs.repository import JobRepository
from kb.jobs.runner import JobRunner

log = logging.getLogger(__name__)
TASK = "kb.run_job"
QUEUE = "kb-jobs"


def celery_app(broker_url: str, visibility_timeout_s: int = 3600) -> Celery:
    """A Celery app for ``broker_url``, configured for late acknowledgement."""
    app = Celery("kb", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # How long an unacknowledged message waits before Redis hands it out again.
        broker_transport_options={"visibility_timeout": visibility_timeout_s},
    )
    return app


def bind_runner(app: Celery, runner: JobRunner) -> None:
    """Register the task that runs jobs on this worker's ``runner``."""

    @app.task(name=TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run_job(job_id: str) -> str:
        return runner.run(job_id)


class CeleryQueue:
    """Records jobs and sends them to Celery workers."""

    name = "celery"

    def __init__(self, repository: JobRepository, app: Celery) -> None:
        self._repo = repository
        self.app = app

    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        kb_id: str | None = None,
        job_id: str | None = None,
    ) -> str:
        """Record the job, then send its message (a job recorded but never sent is sent again
        by the sweeper)."""
        job = self._repo.create(kind, payload, kb_id, job_id)
        try:
            self.send(job.id)
        except Exception:  # the broker is down: the job stays queued for the sweeper
            log.exception("job %s recorded but not sent; the sweeper sends it again", job.id)
        return job.id

    def send(self, job_id: str) -> None:
        """Send the message that runs an already recorded job (again)."""
        self.app.send_task(TASK, args=[job_id], queue=QUEUE)

    def close(self) -> None:
        """Release the broker connections."""
        self.app.close()
