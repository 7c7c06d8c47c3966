"""The task-queue seam: jobs recorded in the registry database, run by an in-process backend
(threads, the embedded default) or by Celery workers when a broker is configured.

A job is a row (``kb.jobs.repository``) and a kind whose handler the composition root registers
(``kb.jobs.handlers``); a backend (``JobQueue.submit``) only decides where it runs. Running jobs
hold a lease they renew by heartbeat; the sweeper hands jobs whose lease ran out (their worker
died) to the queue again, so none stays ``running`` for ever.
"""

from kb.jobs.handlers import Handlers, JobContext
from kb.jobs.models import ACTIVE, Job, JobStatus
from kb.jobs.queue import InProcessQueue, JobQueue
from kb.jobs.repository import JobRepository
from kb.jobs.runner import JobRunner
from kb.jobs.service import Jobs

__all__ = [
    "ACTIVE",
    "Handlers",
    "InProcessQueue",
    "Job",
    "JobContext",
    "JobQueue",
    "JobRepository",
    "JobRunner",
    "JobStatus",
    "Jobs",
]
