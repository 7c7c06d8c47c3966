"""Crawl jobs and the per-page state that makes re-crawls incremental (same database as the
registry)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, delete, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, new_id
from kb.errors import CrawlNotFound

CrawlStatus = Literal["queued", "running", "done", "failed", "cancelled"]
ACTIVE: tuple[CrawlStatus, ...] = ("queued", "running")


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class CrawlCounts:
    """What a crawl has done so far; skipped and failed pages are counted by reason."""

    discovered: int = 0
    fetched: int = 0
    ingested: int = 0
    unchanged: int = 0
    removed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "discovered": self.discovered,
            "fetched": self.fetched,
            "ingested": self.ingested,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": dict(self.skipped),
            "failed": dict(self.failed),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> CrawlCounts:
        """Rebuild from ``to_dict`` output (missing keys count zero)."""
        data = data or {}
        return cls(
            discovered=int(data.get("discovered", 0)),
            fetched=int(data.get("fetched", 0)),
            ingested=int(data.get("ingested", 0)),
            unchanged=int(data.get("unchanged", 0)),
            removed=int(data.get("removed", 0)),
            skipped=dict(data.get("skipped") or {}),
            failed=dict(data.get("failed") or {}),
        )


@dataclass(frozen=True)
class CrawlJob:
    """One crawl of a site into a knowledge base."""

    id: str
    kb_id: str
    status: CrawlStatus
    options: dict[str, Any]
    counts: CrawlCounts
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class PageState:
    """What the last crawl learnt about one URL: validators, outlinks and content fingerprint."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    fingerprint: str | None = None
    links: list[str] = field(default_factory=list)


class CrawlRow(Base):
    __tablename__ = "crawls"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(20))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class CrawlPageRow(Base):
    __tablename__ = "crawl_pages"

    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), primary_key=True
    )
    url: Mapped[str] = mapped_column(String(4096), primary_key=True)
    etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_modified: Mapped[str | None] = mapped_column(String(100), nullable=True)
    fingerprint: Mapped[str | None] = mapped_column(String(32), nullable=True)
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    crawled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


def _to_job(row: CrawlRow) -> CrawlJob:
    return CrawlJob(
        id=row.id,
        kb_id=row.kb_id,
        status=row.status,  # type: ignore[arg-type]
        options=dict(row.options or {}),
        counts=CrawlCounts.from_dict(row.counts),
        created_at=_utc(row.created_at) or _now(),
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
        error=row.error,
    )


class CrawlRepository:
    """Crawl jobs and page states, stored next to the registry's tables."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[CrawlRow.__table__, CrawlPageRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def create_job(self, kb_id: str, options: dict[str, Any]) -> CrawlJob:
        """A new queued crawl job."""
        with self._session() as session:
            row = CrawlRow(
                id=new_id("crawl"), kb_id=kb_id, status="queued", options=options, counts={}
            )
            row.created_at = _now()
            session.add(row)
            session.flush()
            return _to_job(row)

    def get_job(self, kb_id: str, crawl_id: str) -> CrawlJob:
        """One crawl job of a knowledge base."""
        with self._session() as session:
            row = session.get(CrawlRow, crawl_id)
            if row is None or row.kb_id != kb_id:
                raise CrawlNotFound(f"No crawl {crawl_id!r} in knowledge base {kb_id!r}.")
            return _to_job(row)

    def find_job(self, crawl_id: str) -> CrawlJob | None:
        """A crawl job by id alone, if there is one."""
        with self._session() as session:
            row = session.get(CrawlRow, crawl_id)
            return _to_job(row) if row else None

    def list_jobs(self, kb_id: str, limit: int, offset: int) -> tuple[list[CrawlJob], int]:
        """A page of a knowledge base's crawls, newest first, and the total count."""
        with self._session() as session:
            where = CrawlRow.kb_id == kb_id
            total = session.scalar(select(func.count()).select_from(CrawlRow).where(where)) or 0
            rows = session.scalars(
                select(CrawlRow)
                .where(where)
                .order_by(CrawlRow.created_at.desc(), CrawlRow.id)
                .limit(limit)
                .offset(offset)
            ).all()
            return [_to_job(row) for row in rows], total

    def active_job(self, kb_id: str) -> CrawlJob | None:
        """The queued or running crawl of a knowledge base, if any."""
        with self._session() as session:
            row = session.scalar(
                select(CrawlRow).where(CrawlRow.kb_id == kb_id, CrawlRow.status.in_(ACTIVE))
            )
            return _to_job(row) if row else None

    def update_job(
        self,
        crawl_id: str,
        *,
        status: CrawlStatus | None = None,
        counts: CrawlCounts | None = None,
        error: str | None = None,
    ) -> None:
        """Record progress; a status change also stamps the start or end time."""
        with self._session() as session:
            row = session.get(CrawlRow, crawl_id)
            if row is None:
                return  # the knowledge base (and so the crawl) was deleted meanwhile
            if counts is not None:
                row.counts = counts.to_dict()
            if error is not None:
                row.error = error
            if status is not None:
                row.status = status
                if status == "running":
                    row.started_at = _now()
                elif status not in ACTIVE:
                    row.finished_at = _now()

    def active_jobs(self) -> list[CrawlJob]:
        """Every queued or running crawl, of every knowledge base."""
        with self._session() as session:
            rows = session.scalars(select(CrawlRow).where(CrawlRow.status.in_(ACTIVE))).all()
            return [_to_job(row) for row in rows]

    def fail_interrupted(self) -> int:
        """Mark crawls left queued or running by a previous process as failed."""
        with self._session() as session:
            rows = session.scalars(select(CrawlRow).where(CrawlRow.status.in_(ACTIVE))).all()
            for row in rows:
                row.status, row.finished_at = "failed", _now()
                row.error = "interrupted: the service stopped before the crawl finished"
            return len(rows)

    def page_states(self, kb_id: str) -> dict[str, PageState]:
        """Every page state of a knowledge base, by URL."""
        with self._session() as session:
            rows = session.scalars(select(CrawlPageRow).where(CrawlPageRow.kb_id == kb_id)).all()
            return {
                row.url: PageState(
                    row.url, row.etag, row.last_modified, row.fingerprint, list(row.links or [])
                )
                for row in rows
            }

    def save_pages(self, kb_id: str, states: list[PageState]) -> None:
        """Insert or replace the states of pages, in one transaction (one commit, not one each:
        a commit costs milliseconds, a crawl has thousands of pages)."""
        if not states:
            return
        with self._session() as session:
            for state in states:
                row = session.get(CrawlPageRow, (kb_id, state.url)) or CrawlPageRow(
                    kb_id=kb_id, url=state.url
                )
                row.etag, row.last_modified = state.etag, state.last_modified
                row.fingerprint, row.links = state.fingerprint, list(state.links)
                row.crawled_at = _now()
                session.add(row)

    def forget_page(self, kb_id: str, url: str) -> None:
        """Drop the state of a page that is gone."""
        with self._session() as session:
            session.execute(
                delete(CrawlPageRow).where(CrawlPageRow.kb_id == kb_id, CrawlPageRow.url == url)
            )
