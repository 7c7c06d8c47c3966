"""API keys: shown once, stored as SHA-256 hashes, found by a non-secret prefix (same database
as the registry)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import JSON, DateTime, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.errors import ApiKeyNotFound, InvalidInput
from kb.registry import Base

Scope = Literal["admin", "kb:write", "kb:read", "chat", "metrics"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
# A key is `kb_live_<8 hex>_<43 url-safe chars>`: the first part is the public prefix.
KEY_MARK = "kb_live_"
PREFIX_LENGTH = len(KEY_MARK) + 8


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def hash_secret(secret: str) -> str:
    """The stored form of a key: the secret holds 256 random bits, so a plain SHA-256 suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    kb_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(32), nullable=True)


@dataclass(frozen=True)
class ApiKey:
    """What is known about a key, never its secret."""

    prefix: str
    name: str
    scopes: tuple[str, ...]
    kb_ids: tuple[str, ...] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None

    def is_active(self, now: datetime | None = None) -> bool:
        """Not revoked and, when rotated, still inside its grace period."""
        now = now or _now()
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    def has_scope(self, scope: str) -> bool:
        """``admin`` implies every scope."""
        return "admin" in self.scopes or scope in self.scopes

    def may_reach(self, kb_id: str) -> bool:
        """Unrestricted keys reach every knowledge base."""
        return self.kb_ids is None or kb_id in self.kb_ids


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key and its secret, which is never available again."""

    key: ApiKey
    secret: str


def _to_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        prefix=row.prefix,
        name=row.name,
        scopes=tuple(row.scopes),
        kb_ids=tuple(row.kb_ids) if row.kb_ids is not None else None,
        created_at=_utc(row.created_at) or _now(),
        expires_at=_utc(row.expires_at),
        revoked_at=_utc(row.revoked_at),
        replaced_by=row.replaced_by,
    )


def _check_scopes(scopes: list[str]) -> None:
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise InvalidInput(
            f"Scopes must be one or more of {', '.join(SCOPES)}; got {unknown or 'none'}.",
        )


class KeyRepository:
    """Creates, lists, revokes, rotates and checks API keys."""

    def __init__(self, engine: Engine, grace_period: timedelta) -> None:
        Base.metadata.create_all(engine, tables=[ApiKeyRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.grace_period = grace_period

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def create(
        self, scopes: list[str], kb_ids: list[str] | None = None, name: str = ""
    ) -> IssuedKey:
        """A new key; the returned secret is shown once and only its hash is kept."""
        _check_scopes(scopes)
        for _ in range(5):  # 32 random bits of prefix: a clash is rare but possible
            prefix = f"{KEY_MARK}{secrets.token_hex(4)}"
            secret = f"{prefix}_{secrets.token_urlsafe(32)}"
            row = ApiKeyRow(
                prefix=prefix,
                name=name,
                secret_hash=hash_secret(secret),
                scopes=sorted(set(scopes)),
                kb_ids=sorted(set(kb_ids)) if kb_ids else None,
            )
            try:
                with self._session() as session:
                    session.add(row)
            except IntegrityError:
                continue
            return IssuedKey(_to_key(row), secret)
        raise RuntimeError("could not find a free key prefix")

    def list(self) -> list[ApiKey]:
        """Every key, newest first, without secrets."""
        with self._session() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc()))
            return [_to_key(row) for row in rows]

    def get(self, prefix: str) -> ApiKey:
        """One key by prefix, or ApiKeyNotFound."""
        with self._session() as session:
            return _to_key(self._row(session, prefix))

    def revoke(self, prefix: str) -> ApiKey:
        """Refuse the key from now on (idempotent)."""
        with self._session() as session:
            row = self._row(session, prefix)
            row.revoked_at = row.revoked_at or _now()
            return _to_key(row)

    def rotate(self, prefix: str, grace_period: timedelta | None = None) -> IssuedKey:
        """A new key with the same name, scopes and knowledge bases; the old one keeps working
        for the grace period."""
        old = self.get(prefix)
        if not old.is_active():
            raise InvalidInput(f"Key {prefix} is revoked or expired; create a new one instead.")
        issued = self.create(list(old.scopes), list(old.kb_ids or []) or None, old.name)
        ends = _now() + (self.grace_period if grace_period is None else grace_period)
        with self._session() as session:
            row = self._row(session, prefix)
            row.expires_at = min(ends, _utc(row.expires_at) or ends)
            row.replaced_by = issued.key.prefix
        return issued

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None."""
        prefix = secret[:PREFIX_LENGTH]
        if not prefix.startswith(KEY_MARK) or len(secret) > 200:
            return None
        with self._session() as session:
            row = session.get(ApiKeyRow, prefix)
            if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
                return None
            key = _to_key(row)
        return key if key.is_active() else None

    @staticmethod
    def _row(session: Session, prefix: str) -> ApiKeyRow:
        row = session.get(ApiKeyRow, prefix)
        if row is None:
            raise ApiKeyNotFound(f"No API key has the prefix {prefix!r}.")
        return row
