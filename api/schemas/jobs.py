"""Response bodies of the job routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from kb.jobs import Job


class JobOut(BaseModel):
    """A background job: what it is, how far it got, and who holds it."""

    id: str = Field(description="The job's id (a crawl's job id is the crawl's id).")
    kind: str = Field(description="What the job does, e.g. 'crawl'.")
    kb_id: str | None = Field(description="The knowledge base it works on, if any.")
    status: Literal["queued", "running", "succeeded", "failed", "cancelled"]
    counts: dict[str, Any] = Field(description="Progress so far, as the kind counts it.")
    attempts: int = Field(description="Times a worker started it (more than 1: one died).")
    error: str | None
    lease_until: datetime | None = Field(
        description="While running: when its worker's claim lapses unless renewed."
    )
    heartbeat_at: datetime | None = Field(description="Its worker's last heartbeat.")
    holder: str | None = Field(description="'host:pid' of the worker that claimed it last.")
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> JobOut:
        """From the job record."""
        return cls(
            id=job.id,
            kind=job.kind,
            kb_id=job.kb_id,
            status=job.status,
            counts=job.counts,
            attempts=job.attempts,
            error=job.error,
            lease_until=job.lease_until,
            heartbeat_at=job.heartbeat_at,
            holder=job.holder,
            created_at=job.created_at,
            updated_at=job.updated_at,
        )
