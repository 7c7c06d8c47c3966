"""The Celery backend while its broker is down: a submitted job is recorded and stays queued
for the sweeper instead of failing the request that made it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine

from kb.jobs import Handlers, JobRepository, JobRunner, Jobs
from kb.jobs.celery_queue import CeleryQueue, celery_app
from tests.conftest import free_port


def test_a_job_submitted_while_the_broker_is_down_stays_queued(tmp_path: Path) -> None:
    repo = JobRepository(create_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}"))
    backend = CeleryQueue(repo, celery_app(f"redis://127.0.0.1:{free_port()}/0"))
    jobs = Jobs(repo, backend, Handlers(), JobRunner(repo, Handlers()), resend_after_s=0)
    job_id = jobs.submit("crawl", {"crawl_id": "c1"}, kb_id="kb_1")
    assert jobs.get(job_id).status == "queued" and jobs.distributed
    assert jobs.sweep() == 0  # tries to send it again, and keeps it queued
    assert jobs.get(job_id).status == "queued"
