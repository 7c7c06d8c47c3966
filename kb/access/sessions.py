"""Console sessions: what a browser holds instead of an API key once it has signed in.

The browser keeps only a random session id (in an HttpOnly cookie); the registry database keeps
its SHA-256 hash, the prefix of the key that opened it and the session's CSRF token. A session
ends when it has been idle too long, when it reaches its absolute lifetime, when the browser
signs out, or when its key stops being active (the caller checks the key on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, now


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class ConsoleSessionRow(Base):
    __tablename__ = "console_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_prefix: Mapped[str] = mapped_column(String(32), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)


@dataclass(frozen=True)
class ConsoleSession:
    """A live session: the key it acts as and the token its forms must carry."""

    key_prefix: str
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime

    def csrf_matches(self, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (constant-time)."""
        return bool(presented) and hmac.compare_digest(self.csrf_token, presented or "")


class SessionStore:
    """Opens, finds, touches and ends console sessions, with idle and absolute expiry."""

    # last_seen_at is written at most this often: a page load is several requests.
    TOUCH_EVERY = timedelta(seconds=30)

    def __init__(self, engine: Engine, idle: timedelta, lifetime: timedelta) -> None:
        Base.metadata.create_all(engine, tables=[ConsoleSessionRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.idle = idle
        self.lifetime = lifetime

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def open(self, key_prefix: str) -> tuple[str, ConsoleSession]:
        """A new session for the key; the returned id goes to the browser, only its hash is
        kept."""
        session_id = secrets.token_urlsafe(32)
        row = ConsoleSessionRow(
            id_hash=_digest(session_id),
            key_prefix=key_prefix,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now(),
            last_seen_at=now(),
        )
        with self._session() as session:
            session.add(row)
            self._drop_expired(session)
        return session_id, _to_session(row)

    def find(self, session_id: str | None) -> ConsoleSession | None:
        """The live session with this id (touched), or None; an expired one is deleted."""
        if not session_id or len(session_id) > 200:
            return None
        moment = now()
        with self._session() as session:
            row = session.get(ConsoleSessionRow, _digest(session_id))
            if row is None:
                return None
            if self._expired(row, moment):
                session.delete(row)
                return None
            if moment - _utc(row.last_seen_at) > self.TOUCH_EVERY:
                row.last_seen_at = moment
            return _to_session(row)

    def close(self, session_id: str | None) -> None:
        """End the session (idempotent)."""
        if not session_id:
            return
        with self._session() as session:
            session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.id_hash == _digest(session_id))
            )

    def close_for_key(self, key_prefix: str) -> int:
        """End every session of a key (revoked or expired); how many were open."""
        with self._session() as session:
            result = session.execute(
                delete(ConsoleSessionRow).where(ConsoleSessionRow.key_prefix == key_prefix)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def count(self) -> int:
        """Sessions stored (live or not yet swept)."""
        with self._session() as session:
            return len(session.scalars(select(ConsoleSessionRow.id_hash)).all())

    def _expired(self, row: ConsoleSessionRow, moment: datetime) -> bool:
        return (
            moment - _utc(row.last_seen_at) > self.idle
            or moment - _utc(row.created_at) > self.lifetime
        )

    def _drop_expired(self, session: Session) -> None:
        moment = now()
        session.execute(
            delete(ConsoleSessionRow).where(
                (ConsoleSessionRow.last_seen_at < moment - self.idle)
                | (ConsoleSessionRow.created_at < moment - self.lifetime)
            )
        )


def _to_session(row: ConsoleSessionRow) -> ConsoleSession:
    return ConsoleSession(
        key_prefix=row.key_prefix,
        csrf_token=row.csrf_token,
        created_at=_utc(row.created_at),
        last_seen_at=_utc(row.last_seen_at),
    )
