"""Request and response bodies of the crawl routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from kb.db.crawls import CrawlJob

# Generous outer bounds; the KB_CRAWL__ settings apply the real limits (400 with the reason).
Url = Annotated[str, StringConstraints(max_length=8192)]
Pattern = Annotated[str, StringConstraints(max_length=1000)]
Host = Annotated[str, StringConstraints(max_length=300)]


class CrawlCreate(BaseModel):
    """Body of POST /v1/kbs/{kb_id}/crawls; unset limits come from the KB_CRAWL__ settings."""

    model_config = ConfigDict(extra="forbid")

    start_urls: list[Url] = Field(
        min_length=1, max_length=100, description="Where the crawl starts (http or https)."
    )
    max_pages: int | None = Field(None, ge=1, le=10**9, description="Most pages fetched.")
    max_depth: int | None = Field(
        None, ge=0, le=10_000, description="Most links followed from a start URL."
    )
    concurrency: int | None = Field(None, ge=1, le=10_000, description="Parallel requests.")
    delay_s: float | None = Field(
        None, ge=0, le=60, description="Pause between requests to a host (robots.txt may ask more)."
    )
    path_prefix: str | None = Field(
        None, max_length=1000, description="Only URLs whose path starts with this, e.g. /docs/."
    )
    include: list[Pattern] = Field(
        default_factory=list,
        max_length=100,
        description="Regexes; when given, a URL must match one.",
    )
    exclude: list[Pattern] = Field(
        default_factory=list, max_length=100, description="Regexes; a URL matching any is skipped."
    )
    extra_hosts: list[Host] = Field(
        default_factory=list,
        max_length=50,
        description="More host[:port] names in scope besides those of the start URLs.",
    )
    use_sitemaps: bool = Field(True, description="Seed from robots.txt and /sitemap.xml sitemaps.")
    skip_near_duplicates: bool = Field(
        True, description="Skip pages (nearly) identical to one already kept."
    )

    def options(self) -> dict[str, Any]:
        """The crawl options besides the start URLs."""
        return self.model_dump(exclude={"start_urls"})


class CrawlCountsOut(BaseModel):
    """What a crawl has done; every discovered URL ends in one of the other counts."""

    discovered: int
    fetched: int
    ingested: int
    unchanged: int
    removed: int
    skipped: dict[str, int] = Field(description="Pages skipped on purpose, by reason.")
    failed: dict[str, int] = Field(description="Pages that could not be fetched, by reason.")


class CrawlOut(BaseModel):
    """A crawl job."""

    id: str
    kb_id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    options: dict[str, Any]
    counts: CrawlCountsOut
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: CrawlJob) -> CrawlOut:
        """From the domain model."""
        return cls(
            id=job.id,
            kb_id=job.kb_id,
            status=job.status,
            options=job.options,
            counts=CrawlCountsOut(**job.counts.to_dict()),
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


class CrawlPage(BaseModel):
    """A page of crawls."""

    items: list[CrawlOut]
    total: int
    limit: int
    offset: int
