"""Background jobs: where they run (threads here, or ``kb worker`` processes over a broker)
and the leases that keep a dead worker's job from staying "running"."""

from __future__ import annotations

from pydantic import BaseModel, Field


class JobsSettings(BaseModel):
    """The task queue: in-process by default, Celery when a broker URL is set."""

    broker_url: str | None = Field(
        None,
        description="Celery broker URL (e.g. 'redis://host:6379/0'). Set, crawls and other "
        "background jobs run in 'kb worker' processes and events go through the outbox; unset, "
        "they run on threads of the API process.",
    )
    workers: int = Field(
        2, ge=1, description="Threads running jobs in the API process when no broker is set."
    )
    lease_s: float = Field(
        30.0,
        gt=0,
        description="Seconds a running job's claim holds without a heartbeat; after that the "
        "sweeper queues it again for another worker.",
    )
    heartbeat_s: float = Field(
        5.0, gt=0, description="Seconds between the heartbeats renewing a running job's lease."
    )
    max_attempts: int = Field(
        3,
        ge=1,
        description="Times a job is started before one whose workers keep dying is failed.",
    )
    sweep_interval_s: float = Field(
        5.0, gt=0, description="Seconds between sweeps for jobs whose lease ran out."
    )
    outbox_drain_s: float = Field(
        1.0,
        gt=0,
        description="Seconds between drains of the event outbox into webhook deliveries "
        "(distributed setup).",
    )
    visibility_timeout_s: int = Field(
        3600,
        ge=60,
        description="Seconds the Redis broker waits before handing an unacknowledged message "
        "to another worker (the lease sweeper usually requeues a dead worker's job sooner).",
    )
