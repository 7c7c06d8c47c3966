"""Job routes: a background job's status and counts."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import CallerDep, JobsDep
from api.schemas.jobs import JobOut
from kb.errors import JobNotFound

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, jobs: JobsDep, key: CallerDep) -> JobOut:
    """A job's status and counts (404 ``job_not_found`` also for a job of a knowledge base the
    key may not reach)."""
    job = jobs.get(job_id)
    if key is not None and key.kb_ids is not None and not key.may_reach(job.kb_id or ""):
        raise JobNotFound(f"No job has the id {job_id!r}.")
    return JobOut.of(job)
