"""Jobs as handed out: the dataclass and its statuses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
ACTIVE: tuple[JobStatus, ...] = ("queued", "running")


@dataclass(frozen=True)
class Job:
    """One unit of background work: its kind, input, progress and lease."""

    id: str
    kind: str
    kb_id: str | None
    status: JobStatus
    payload: dict[str, Any]
    counts: dict[str, Any] = field(default_factory=dict)
    attempts: int = 0
    lease_until: datetime | None = None
    heartbeat_at: datetime | None = None
    holder: str | None = None  # "host:pid" of the worker that claimed it last
    error: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def finished(self) -> bool:
        """Whether the job has ended (succeeded, failed or cancelled)."""
        return self.status not in ACTIVE
