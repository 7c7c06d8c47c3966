"""Which embedding model fills each knowledge base's vector index, and its re-index jobs.

A knowledge base's dense index is one Chroma collection filled by one model; the registry
records the model's name, fingerprint (name + hash of its weights), vector dimension and the
collection. A table of its own rather than columns of ``knowledge_bases``: re-indexing adds a
second collection and a job with progress, and a database of an older release gains the table
by ``create_all`` (a knowledge base without a row was filled by the configured model, and is
recorded as such the first time it is used: ``kb.index_models``). Rows name their knowledge
base ``kb_id``, so deleting it erases them (``kb.db.erasure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from kb.db.base import Base, new_id, now, utc
from kb.errors import ReindexInProgress, ReindexJobNotFound

ACTIVE = ("queued", "running")


class EmbeddingIndexRow(Base):
    __tablename__ = "kb_embedding_indexes"

    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(400))
    fingerprint: Mapped[str] = mapped_column(String(500))
    dimension: Mapped[int | None] = mapped_column(Integer, nullable=True)
    collection: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


class ReindexJobRow(Base):
    __tablename__ = "reindex_jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    model: Mapped[str] = mapped_column(String(400))
    collection: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class EmbeddingIndex:
    """The model that filled a knowledge base's vectors and the collection holding them."""

    kb_id: str
    model: str
    fingerprint: str
    dimension: int | None
    collection: str


@dataclass(frozen=True)
class ReindexJob:
    """A re-index of a knowledge base with another model: its state and progress (chunks)."""

    id: str
    kb_id: str
    model: str
    collection: str
    status: str  # queued, running, done, failed, cancelled
    done: int
    total: int
    error: str | None
    created_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None

    @property
    def active(self) -> bool:
        """Whether it has not ended yet."""
        return self.status in ACTIVE


def _index(row: EmbeddingIndexRow) -> EmbeddingIndex:
    return EmbeddingIndex(row.kb_id, row.model, row.fingerprint, row.dimension, row.collection)


def _job(row: ReindexJobRow) -> ReindexJob:
    return ReindexJob(
        id=row.id,
        kb_id=row.kb_id,
        model=row.model,
        collection=row.collection,
        status=row.status,
        done=row.done,
        total=row.total,
        error=row.error,
        created_at=utc(row.created_at),
        heartbeat_at=utc(row.heartbeat_at),
        finished_at=utc(row.finished_at) if row.finished_at else None,
    )


class IndexRecords:
    """Read and switch knowledge bases' embedding indexes; create and update re-index jobs."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine)  # these tables, in a database of an older release
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def get(self, kb_id: str) -> EmbeddingIndex | None:
        """The knowledge base's index, None when none is recorded (an older release's)."""
        with self._sessions() as session:
            row = session.get(EmbeddingIndexRow, kb_id)
            return _index(row) if row else None

    def record(self, index: EmbeddingIndex) -> EmbeddingIndex:
        """Record an index for a knowledge base that has none (the first recorded wins)."""
        try:
            return self._record(index)
        except IntegrityError:  # recorded meanwhile by another thread or process
            found = self.get(index.kb_id)
            if found is None:
                raise
            return found

    def _record(self, index: EmbeddingIndex) -> EmbeddingIndex:
        with self._sessions.begin() as session:
            row = session.get(EmbeddingIndexRow, index.kb_id)
            if row is None:
                row = EmbeddingIndexRow(
                    kb_id=index.kb_id,
                    model=index.model,
                    fingerprint=index.fingerprint,
                    dimension=index.dimension,
                    collection=index.collection,
                )
                session.add(row)
                session.flush()
            return _index(row)

    def switch(self, index: EmbeddingIndex, job_id: str) -> None:
        """Point the knowledge base at ``index`` and mark the job done, in one transaction."""
        with self._sessions.begin() as session:
            row = session.get(EmbeddingIndexRow, index.kb_id)
            if row is None:
                row = EmbeddingIndexRow(kb_id=index.kb_id)
                session.add(row)
            row.model, row.fingerprint = index.model, index.fingerprint
            row.dimension, row.collection = index.dimension, index.collection
            row.updated_at = now()
            job = session.get(ReindexJobRow, job_id)
            if job is not None:
                job.status, job.finished_at, job.done = "done", now(), job.total

    def start_job(self, kb_id: str, model: str, collection: str) -> ReindexJob:
        """A queued job; ReindexInProgress while another of the knowledge base's is active."""
        with self._sessions.begin() as session:
            running = session.scalar(
                select(ReindexJobRow).where(
                    ReindexJobRow.kb_id == kb_id, ReindexJobRow.status.in_(ACTIVE)
                )
            )
            if running is not None:
                raise ReindexInProgress(
                    f"Knowledge base {kb_id!r} is being re-indexed already (job {running.id}).",
                    job_id=running.id,
                )
            row = ReindexJobRow(id=new_id("rix"), kb_id=kb_id, model=model, collection=collection)
            session.add(row)
            session.flush()
            return _job(row)

    def update_job(self, job_id: str, **fields: object) -> ReindexJob:
        """Set a job's fields (status, done, total, error); every update is a heartbeat."""
        with self._sessions.begin() as session:
            row = session.get(ReindexJobRow, job_id)
            if row is None:
                raise ReindexJobNotFound(f"No re-index job {job_id!r}.")
            for name, value in fields.items():
                setattr(row, name, value)
            row.heartbeat_at = now()
            if fields.get("status") in ("done", "failed", "cancelled"):
                row.finished_at = now()
            return _job(row)

    def get_job(self, kb_id: str, job_id: str) -> ReindexJob:
        """One of the knowledge base's jobs, or ReindexJobNotFound."""
        with self._sessions() as session:
            row = session.get(ReindexJobRow, job_id)
            if row is None or row.kb_id != kb_id:
                raise ReindexJobNotFound(f"No re-index job {job_id!r} in {kb_id!r}.")
            return _job(row)

    def jobs(self, kb_id: str) -> list[ReindexJob]:
        """The knowledge base's jobs, newest first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(ReindexJobRow)
                .where(ReindexJobRow.kb_id == kb_id)
                .order_by(ReindexJobRow.created_at.desc(), ReindexJobRow.id)
            ).all()
            return [_job(row) for row in rows]

    def active_job(self, kb_id: str) -> ReindexJob | None:
        """The knowledge base's queued or running job, if any."""
        return next((job for job in self.jobs(kb_id) if job.active), None)
