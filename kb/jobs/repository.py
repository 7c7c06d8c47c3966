"""The jobs table (same database as the registry) and the conditional updates that make claims,
leases and requeues safe when several processes share it.

Every state change is one ``UPDATE ... WHERE`` naming the state it expects, so of two workers
claiming a job, or two sweepers requeueing it, exactly one sees its row count be 1.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, new_id
from kb.errors import JobNotFound
from kb.jobs.models import ACTIVE, Job, JobStatus

# Who holds a claim: enough for an operator (or a test) to find the worker process.
HOLDER = f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    # No foreign key: a job may outlive its knowledge base (and say it failed because of it).
    kb_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    holder: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


def _to_job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        kb_id=row.kb_id,
        status=row.status,  # type: ignore[arg-type]
        payload=dict(row.payload or {}),
        counts=dict(row.counts or {}),
        attempts=row.attempts or 0,
        lease_until=_utc(row.lease_until),
        heartbeat_at=_utc(row.heartbeat_at),
        holder=row.holder,
        error=row.error,
        created_at=_utc(row.created_at),
        updated_at=_utc(row.updated_at),
    )


class JobRepository:
    """Creates, claims, renews, finishes and requeues jobs."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[JobRow.__table__])  # type: ignore[list-item]
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def create(
        self,
        kind: str,
        payload: dict[str, Any],
        kb_id: str | None = None,
        job_id: str | None = None,
    ) -> Job:
        """A new queued job (``job_id``: an id chosen by the caller, e.g. a crawl's)."""
        with self._session() as session:
            row = JobRow(
                id=job_id or new_id("job"),
                kind=kind,
                kb_id=kb_id,
                status="queued",
                payload=payload,
                counts={},
                attempts=0,
            )
            row.created_at = row.updated_at = _now()
            session.add(row)
            session.flush()
            return _to_job(row)

    def get(self, job_id: str) -> Job:
        """One job, or JobNotFound."""
        with self._session() as session:
            row = session.get(JobRow, job_id)
            if row is None:
                raise JobNotFound(f"No job has the id {job_id!r}.")
            return _to_job(row)

    def find(self, job_id: str) -> Job | None:
        """One job, or None."""
        with self._session() as session:
            row = session.get(JobRow, job_id)
            return _to_job(row) if row is not None else None

    def _update(self, job_id: str, where: Any, **values: Any) -> bool:
        values.setdefault("updated_at", _now())
        with self._engine.begin() as connection:
            done = connection.execute(
                update(JobRow).where(JobRow.id == job_id, where).values(**values)
            )
            return bool(done.rowcount)

    def claim(self, job_id: str, lease_s: float) -> Job | None:
        """Mark a queued job (or a running one whose lease ran out) running under a new lease;
        None when another worker holds it or it has ended."""
        now = _now()
        claimable = (JobRow.status == "queued") | (
            (JobRow.status == "running") & (JobRow.lease_until < now)
        )
        claimed = self._update(
            job_id,
            claimable,
            status="running",
            attempts=JobRow.attempts + 1,
            lease_until=now + timedelta(seconds=lease_s),
            heartbeat_at=now,
            holder=HOLDER,
            error=None,
        )
        return self.find(job_id) if claimed else None

    def heartbeat(
        self,
        job_id: str,
        lease_s: float,
        counts: dict[str, Any] | None = None,
        attempt: int | None = None,
    ) -> bool:
        """Renew a running job's lease (and save its counts); False when it is no longer
        running, or no longer ``attempt`` (taken over after the lease ran out)."""
        now = _now()
        values: dict[str, Any] = {"lease_until": now + timedelta(seconds=lease_s)}
        values["heartbeat_at"] = now
        if counts is not None:
            values["counts"] = counts
        return self._update(job_id, self._running(attempt), **values)

    @staticmethod
    def _running(attempt: int | None) -> Any:
        running = JobRow.status == "running"
        return running if attempt is None else running & (JobRow.attempts == attempt)

    def finish(
        self,
        job_id: str,
        status: JobStatus,
        counts: dict[str, Any] | None = None,
        error: str | None = None,
        attempt: int | None = None,
    ) -> bool:
        """End a running or queued job (only ``attempt`` of it, when given: a worker whose
        job was taken over does not end it); False when it had ended already."""
        values: dict[str, Any] = {"status": status, "lease_until": None, "error": error}
        if counts is not None:
            values["counts"] = counts
        where = JobRow.status.in_(ACTIVE) if attempt is None else self._running(attempt)
        return self._update(job_id, where, **values)

    def cancel(self, job_id: str) -> bool:
        """Ask an active job to stop (its worker sees it at the next heartbeat)."""
        return self.finish(job_id, "cancelled")

    def expired(self, limit: int = 100) -> list[Job]:
        """Running jobs whose lease has run out: their worker died or hangs."""
        with self._session() as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.status == "running", JobRow.lease_until < _now())
                .order_by(JobRow.lease_until)
                .limit(limit)
            ).all()
            return [_to_job(row) for row in rows]

    def requeue(self, job: Job, max_attempts: int) -> JobStatus | None:
        """Queue an expired job again, or fail it after ``max_attempts``; the status it got,
        None when another sweeper or a late heartbeat got there first."""
        expected = (JobRow.status == "running") & (JobRow.lease_until == job.lease_until)
        if job.attempts >= max_attempts:
            error = f"gave up after {job.attempts} attempts: each worker stopped renewing its lease"
            done = self._update(job.id, expected, status="failed", lease_until=None, error=error)
            return "failed" if done else None
        done = self._update(job.id, expected, status="queued", lease_until=None)
        return "queued" if done else None

    def queued(self, older_than_s: float, limit: int = 100) -> list[Job]:
        """Jobs queued for longer than ``older_than_s`` (their message may have been lost)."""
        cutoff = _now() - timedelta(seconds=older_than_s)
        with self._session() as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.status == "queued", JobRow.updated_at < cutoff)
                .order_by(JobRow.updated_at)
                .limit(limit)
            ).all()
            return [_to_job(row) for row in rows]

    def touch(self, job_id: str) -> bool:
        """Note that a queued job's message was sent again now."""
        return self._update(job_id, JobRow.status == "queued")
