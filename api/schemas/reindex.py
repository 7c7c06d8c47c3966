"""Request and response bodies of the re-index routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kb.db.indexes import ReindexJob


class ReindexCreate(BaseModel):
    """Body of POST /v1/kbs/{kb_id}/reindex."""

    model_config = ConfigDict(extra="forbid")

    embedding_model: str = Field(
        min_length=1,
        max_length=400,
        description="The model to fill the new index, e.g. 'bundled:multilingual-e5-small'.",
    )


class ReindexJobOut(BaseModel):
    """A re-index job: the old index serves until ``status`` is ``done``."""

    id: str
    kb_id: str
    embedding_model: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    done: int = Field(description="Chunks embedded with the new model so far.")
    total: int = Field(description="Chunks to embed (grows if documents arrive meanwhile).")
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, job: ReindexJob) -> ReindexJobOut:
        """From the job record."""
        return cls(
            id=job.id,
            kb_id=job.kb_id,
            embedding_model=job.model,
            status=job.status,  # type: ignore[arg-type]
            done=job.done,
            total=job.total,
            error=job.error,
            created_at=job.created_at,
            finished_at=job.finished_at,
        )


class ReindexJobList(BaseModel):
    """A knowledge base's re-index jobs, newest first."""

    items: list[ReindexJobOut]
