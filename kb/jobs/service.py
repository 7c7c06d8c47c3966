"""``Jobs``: the one object the rest of the engine uses: submit, look up, cancel, sweep."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from kb.errors import JobNotFound
from kb.jobs.handlers import Handler, Handlers
from kb.jobs.models import Job
from kb.jobs.repository import JobRepository
from kb.jobs.runner import JobRunner

log = logging.getLogger(__name__)


class Backend(Protocol):
    """A ``JobQueue`` that can also send a recorded job again, and be closed."""

    name: str

    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        kb_id: str | None = None,
        job_id: str | None = None,
    ) -> str: ...

    def send(self, job_id: str) -> None: ...

    def close(self) -> None: ...


class Jobs:
    """Background jobs over a backend, with the handlers that run them."""

    def __init__(
        self,
        repository: JobRepository,
        backend: Backend,
        handlers: Handlers,
        runner: JobRunner,
        resend_after_s: float = 3600.0,
    ) -> None:
        self.repository = repository
        # A job queued this long may have lost its message (the broker was down when it was
        # sent): it is sent again (a duplicate message only finds the job claimed, or ended).
        self._resend_after_s = resend_after_s
        self.backend = backend
        self.handlers = handlers
        self.runner = runner
        self._lookups: list[Callable[[str], Job | None]] = []

    @property
    def distributed(self) -> bool:
        """Whether jobs run in other processes (``kb worker``) rather than on threads here."""
        return self.backend.name != "in-process"

    def register(self, kind: str, handler: Handler) -> None:
        """Run ``handler`` for jobs of ``kind``."""
        self.handlers.register(kind, handler)

    def submit(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        kb_id: str | None = None,
        job_id: str | None = None,
    ) -> str:
        """Queue a job; its id."""
        return self.backend.submit(kind, payload, kb_id=kb_id, job_id=job_id)

    def add_lookup(self, lookup: Callable[[str], Job | None]) -> None:
        """Also find jobs ``lookup`` knows (work that runs outside the queue, as the embedded
        default's crawls), shown as jobs."""
        self._lookups.append(lookup)

    def get(self, job_id: str) -> Job:
        """One job (JobNotFound when there is none)."""
        found = self.repository.find(job_id)
        for lookup in self._lookups:
            if found is not None:
                break
            found = lookup(job_id)
        if found is None:
            raise JobNotFound(f"No job has the id {job_id!r}.")
        return found

    def cancel(self, job_id: str) -> bool:
        """Ask a job to stop; False when it had ended."""
        return self.repository.cancel(job_id)

    def sweep(self) -> int:
        """Queue again the jobs whose lease ran out (failing those out of attempts) and resend
        jobs queued for long (a message lost before a worker saw it); how many were moved."""
        times = self.runner.times
        moved = 0
        for job in self.repository.expired():
            status = self.repository.requeue(job, times.max_attempts)
            if status is None:
                continue
            moved += 1
            log.warning("job %s (%s): lease expired, %s", job.id, job.kind, status)
            if status == "queued":
                self._send(job.id)
        for job in self.repository.queued(older_than_s=self._resend_after_s):
            if self.repository.touch(job.id):
                self._send(job.id)
        return moved

    def _send(self, job_id: str) -> None:
        try:
            self.backend.send(job_id)
        except Exception:  # the broker is down: the job stays queued for a later sweep
            log.warning("job %s could not be sent; a later sweep tries again", job_id)

    def close(self) -> None:
        """Stop the backend (in-process: wait for running jobs)."""
        self.backend.close()
