"""The seam: ``JobQueue.submit(kind, payload) -> job id``, and the in-process backend."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from kb.jobs.repository import JobRepository
from kb.jobs.runner import JobRunner

log = logging.getLogger(__name__)


class JobQueue(Protocol):
    """Where jobs run: record one and have it run somewhere."""

    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        kb_id: str | None = None,
        job_id: str | None = None,
    ) -> str:
        """Record a queued job of ``kind`` and hand it to the backend; its id."""
        ...


class InProcessQueue:
    """Runs jobs on a few threads of this process (the embedded default)."""

    name = "in-process"

    def __init__(self, repository: JobRepository, runner: JobRunner, workers: int = 2) -> None:
        self._repo = repository
        self._runner = runner
        self._pool = ThreadPoolExecutor(max(1, workers), "job")

    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        kb_id: str | None = None,
        job_id: str | None = None,
    ) -> str:
        """Record the job and run it on a thread here."""
        job = self._repo.create(kind, payload, kb_id, job_id)
        self.send(job.id)
        return job.id

    def send(self, job_id: str) -> None:
        """Run an already recorded job (again)."""
        self._pool.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        try:
            self._runner.run(job_id)
        except Exception:  # the runner records failures itself; this is a last resort
            log.exception("job %s could not be run", job_id)

    def close(self) -> None:
        """Wait for running jobs, drop queued ones (they stay queued in the table)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
