"""Uploads ingested as jobs (``POST .../documents?wait=false``): the API stores the bytes and
answers 202 with a job id; a worker (or, embedded, a thread here) ingests them.

Running such a job again (its worker died) is safe: the bytes are dropped only once the job
has ended, and the same content ingested twice comes out ``unchanged`` the second time.
"""

from __future__ import annotations

from typing import Any

from ingest.pipeline.service import IngestionService
from ingest.sources import RawSource
from kb.db.base import new_id
from kb.db.registry import Registry
from kb.jobs import Job, JobContext, Jobs
from kb.jobs.blobs import JobBlobs

KIND = "ingest"


class QueuedUploads:
    """Queues uploads as ``ingest`` jobs and runs them."""

    def __init__(
        self, registry: Registry, ingestion: IngestionService, jobs: Jobs, blobs: JobBlobs
    ) -> None:
        self._registry = registry
        self._ingestion = ingestion
        self._jobs = jobs
        self._blobs = blobs

    def submit(self, kb_id: str, raw: RawSource) -> Job:
        """Queue ``raw`` for ingestion into ``kb_id`` (KnowledgeBaseNotFound at once)."""
        self._registry.get_kb(kb_id)
        job_id = new_id("job")
        self._blobs.put(job_id, raw.data, kb_id)
        described = {
            "source": raw.source,
            "filename": raw.filename,
            "title": raw.title,
            "declared_type": raw.declared_type,
            "metadata": raw.metadata,
        }
        self._jobs.submit(KIND, described, kb_id=kb_id, job_id=job_id)
        return self._jobs.get(job_id)

    def run_job(self, context: JobContext) -> dict[str, Any]:
        """Ingest a queued upload (the ``ingest`` job handler); its outcome and document."""
        job = context.job
        data = self._blobs.get(job.id)
        if data is None:
            raise RuntimeError("the upload's bytes are gone (the job ran to its end before)")
        try:
            result = self._ingestion.ingest(job.kb_id or "", RawSource(data=data, **job.payload))
        finally:
            self._blobs.drop(job.id)
        return {"outcome": result.outcome, "document_id": result.document.id}
