"""The bytes a queued upload carries to its worker, kept in the registry database (so any
worker reaches them) until the job has ingested them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, LargeBinary, String, delete
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column, sessionmaker

from kb.db.base import Base


def _now() -> datetime:
    return datetime.now(UTC)


class JobBlobRow(Base):
    __tablename__ = "job_blobs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # Erased with its knowledge base (kb.db.erasure), should the job never run.
    kb_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class JobBlobs:
    """Put, read and drop a job's bytes."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[JobBlobRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine)

    def put(self, job_id: str, data: bytes, kb_id: str | None = None) -> None:
        """Keep ``data`` for ``job_id`` (of knowledge base ``kb_id``)."""
        with self._sessions.begin() as session:
            session.add(JobBlobRow(job_id=job_id, kb_id=kb_id, data=data, created_at=_now()))

    def get(self, job_id: str) -> bytes | None:
        """The job's bytes, if still kept."""
        with self._sessions.begin() as session:
            row = session.get(JobBlobRow, job_id)
            return bytes(row.data) if row is not None else None

    def drop(self, job_id: str) -> None:
        """Forget the job's bytes (done with them)."""
        with self._sessions.begin() as session:
            session.execute(delete(JobBlobRow).where(JobBlobRow.job_id == job_id))
