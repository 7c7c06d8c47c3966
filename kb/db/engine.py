"""The one place the registry database's SQLAlchemy engine is made, for SQLite and PostgreSQL.

SQLite (the embedded default) gets its pragmas on every connection: foreign keys, WAL, a busy
timeout, and ``secure_delete`` so deleted rows are overwritten (``kb.db.erasure``).
PostgreSQL (``postgresql+psycopg://...``, the distributed setup) gets a connection pool sized
by the settings, checked before use (``pool_pre_ping``: a connection the server or a proxy
closed is replaced instead of failing a request) and recycled after ``pool_recycle_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url


@dataclass(frozen=True)
class PoolOptions:
    """Connection pool of a server database (PostgreSQL); SQLite ignores it."""

    size: int = 5
    max_overflow: int = 10
    timeout_s: float = 30.0
    recycle_s: int = 1800


def is_postgresql(database_url: str) -> bool:
    """Whether ``database_url`` names a PostgreSQL database."""
    return make_url(database_url).get_backend_name() == "postgresql"


def make_engine(database_url: str, pool: PoolOptions | None = None) -> Engine:
    """An engine for ``database_url`` with the settings its database needs."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url)
        _enable_sqlite_pragmas(engine)
        return engine
    pool = pool or PoolOptions()
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_s,
        pool_recycle=pool.recycle_s,
    )


def _enable_sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        # Deleted rows (a deleted knowledge base's leads, messages...) are overwritten with
        # zeros, not left readable in free pages (kb.db.erasure).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()
