"""The registry database's declarative base and ids, and its knowledge-base and document tables.

Other tables of the same database (crawl jobs, keys, webhooks...) derive from ``Base`` here.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    inspect,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kb.models import Document


class Unset:
    """Marks an update argument that was not given (None means "clear it")."""


UNSET = Unset()


def now() -> datetime:
    return datetime.now(UTC)


def new_id(prefix: str) -> str:
    """A short random identifier such as ``kb_3f9a0c1d2e4b5a6c``."""
    return f"{prefix}_{secrets.token_hex(8)}"


class _Base(DeclarativeBase):
    pass


def add_missing_columns(engine: Engine, table: str, columns: dict[str, str]) -> None:
    """Add ``columns`` (name -> SQL type) that a table created by an older release lacks."""
    present = {c["name"] for c in inspect(engine).get_columns(table)}
    with engine.begin() as connection:
        for name, ddl in columns.items():
            if name not in present:
                connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {name} {ddl}"))


# Other tables of the same database (crawl jobs) share this metadata so foreign keys resolve.
Base = _Base


class KnowledgeBaseRow(_Base):
    __tablename__ = "knowledge_bases"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    default_model: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # What happens to unsupported claims: drop, flag, off (None: the server's setting).
    verification: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


# Columns of knowledge_bases added after its first release (see ``add_missing_columns``).
KB_ADDED_COLUMNS = {"verification": "VARCHAR(8)"}


class DocumentRow(_Base):
    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("kb_id", "source", name="uq_documents_kb_source"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kb_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(2048))
    media_type: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="ready")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


def utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def to_document(row: DocumentRow) -> Document:
    return Document(
        id=row.id,
        kb_id=row.kb_id,
        title=row.title,
        source=row.source,
        media_type=row.media_type,
        content_hash=row.content_hash,
        size_bytes=row.size_bytes,
        chunk_count=row.chunk_count,
        status=row.status,
        error=row.error,
        metadata=dict(row.meta or {}),
        created_at=utc(row.created_at),
        updated_at=utc(row.updated_at),
    )
