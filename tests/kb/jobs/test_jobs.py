"""Jobs on a real SQLite registry: claims are exclusive, leases expire into requeues, handlers
run through the in-process backend, and a job is never run twice at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from kb.errors import JobNotFound
from kb.jobs import Handlers, InProcessQueue, JobContext, JobRepository, JobRunner, Jobs
from kb.jobs.runner import LeaseTimes


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")


@pytest.fixture
def repo(engine: Engine) -> JobRepository:
    return JobRepository(engine)


def _jobs(repo: JobRepository, times: LeaseTimes | None = None) -> Jobs:
    handlers = Handlers()
    runner = JobRunner(repo, handlers, times or LeaseTimes(lease_s=5, heartbeat_s=0.05))
    return Jobs(repo, InProcessQueue(repo, runner, 2), handlers, runner)


def _wait_for(jobs: Jobs, job_id: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        if job.finished:
            return job.status
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {jobs.get(job_id).status}")


def test_only_one_of_two_claims_wins(repo: JobRepository) -> None:
    job = repo.create("crawl", {"x": 1}, kb_id="kb_1")
    first, second = repo.claim(job.id, 30), repo.claim(job.id, 30)
    assert first is not None and first.status == "running" and first.attempts == 1
    assert second is None


def test_an_expired_lease_is_requeued_then_failed_after_the_last_attempt(
    repo: JobRepository,
) -> None:
    """A worker killed mid-job left it "running" for ever."""
    job = repo.create("crawl", {})
    assert repo.claim(job.id, 0.01) is not None
    time.sleep(0.05)
    [expired] = repo.expired()
    assert repo.requeue(expired, max_attempts=2) == "queued"
    assert repo.get(job.id).status == "queued"
    assert repo.claim(job.id, 0.01) is not None  # a second worker takes it
    time.sleep(0.05)
    [expired] = repo.expired()
    assert repo.requeue(expired, max_attempts=2) == "failed"
    ended = repo.get(job.id)
    assert ended.status == "failed" and "gave up after 2 attempts" in (ended.error or "")


def test_a_renewed_lease_is_not_requeued(repo: JobRepository) -> None:
    job = repo.create("crawl", {})
    assert repo.claim(job.id, 0.01) is not None
    time.sleep(0.05)
    [expired] = repo.expired()
    assert repo.heartbeat(job.id, 30, {"done": 3})  # the worker was only slow
    assert repo.requeue(expired, max_attempts=3) is None
    assert repo.get(job.id).status == "running" and repo.get(job.id).counts == {"done": 3}


def test_the_in_process_backend_runs_the_kinds_handler(repo: JobRepository) -> None:
    jobs = _jobs(repo)
    seen: list[dict[str, Any]] = []

    def handler(context: JobContext) -> dict[str, Any]:
        seen.append(context.payload)
        return {"pages": 2}

    jobs.register("crawl", handler)
    job_id = jobs.submit("crawl", {"crawl_id": "c1"}, kb_id="kb_1", job_id="crawl_c1")
    assert job_id == "crawl_c1"
    assert _wait_for(jobs, job_id) == "succeeded"
    assert seen == [{"crawl_id": "c1"}] and jobs.get(job_id).counts == {"pages": 2}
    jobs.close()


def test_a_failing_handler_and_an_unknown_kind_fail_the_job(repo: JobRepository) -> None:
    jobs = _jobs(repo)

    def boom(_context: JobContext) -> None:
        raise ValueError("the site is down")

    jobs.register("crawl", boom)
    failed = jobs.submit("crawl", {})
    unknown = jobs.submit("nothing", {})
    assert _wait_for(jobs, failed) == "failed"
    assert jobs.get(failed).error == "ValueError: the site is down"
    assert _wait_for(jobs, unknown) == "failed"
    assert "no handler" in (jobs.get(unknown).error or "")
    jobs.close()


def test_cancelling_a_running_job_stops_its_handler_at_the_next_heartbeat(
    repo: JobRepository,
) -> None:
    jobs = _jobs(repo)
    started = threading.Event()

    def slow(context: JobContext) -> dict[str, Any]:
        started.set()
        context.progress({"done": 1})
        assert context.cancel.wait(10), "never told to stop"
        return {"done": 1}

    jobs.register("crawl", slow)
    job_id = jobs.submit("crawl", {})
    assert started.wait(10)
    assert jobs.cancel(job_id)
    assert _wait_for(jobs, job_id) == "cancelled"
    jobs.close()


def test_a_message_delivered_twice_runs_the_job_once(repo: JobRepository) -> None:
    """Late acknowledgement redelivers a message whose job another worker already runs."""
    handlers = Handlers()
    runs: list[str] = []
    gate = threading.Event()

    def handler(context: JobContext) -> None:
        runs.append(context.job.id)
        gate.wait(5)

    handlers.register("crawl", handler)
    runner = JobRunner(repo, handlers, LeaseTimes(lease_s=30, heartbeat_s=0.05))
    job = repo.create("crawl", {})
    first = threading.Thread(target=runner.run, args=(job.id,))
    first.start()
    time.sleep(0.2)
    assert runner.run(job.id) == "skipped"
    gate.set()
    first.join()
    assert runs == [job.id] and repo.get(job.id).status == "succeeded"
    assert runner.run(job.id) == "skipped"  # and once it has ended, never again


def test_the_sweeper_runs_a_dead_workers_job_again(repo: JobRepository) -> None:
    jobs = _jobs(repo, LeaseTimes(lease_s=0.2, heartbeat_s=0.05, max_attempts=3))
    done = threading.Event()
    jobs.register("crawl", lambda _context: done.set() or {"ok": 1})
    job = repo.create("crawl", {})
    assert repo.claim(job.id, 0.01) is not None  # a worker took it, then died
    time.sleep(0.05)
    assert jobs.sweep() == 1
    assert done.wait(10)
    assert _wait_for(jobs, job.id) == "succeeded" and jobs.get(job.id).attempts == 2
    jobs.close()


def test_an_unknown_job_is_not_found(repo: JobRepository) -> None:
    with pytest.raises(JobNotFound):
        repo.get("job_missing")
