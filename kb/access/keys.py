"""API keys: shown once, stored as SHA-256 hashes, found by a non-secret prefix (same database
as the registry).

Two kinds: ``secret`` keys (``kb_live_...``) for servers, and ``publishable`` keys
(``kb_pub_...``) meant to sit in a web page: chat only, one knowledge base, and honoured only
from the browser origins listed on the key.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, DateTime, String, inspect, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.access.models import (
    MARKS,
    MAX_ORIGINS,
    PUBLISHABLE_SCOPES,
    ApiKey,
    IssuedKey,
    KeyKind,
    check_scopes,
    hash_secret,
)
from kb.db.base import Base, now
from kb.errors import ApiKeyNotFound, InvalidInput, KeyAlreadyRotated
from kb.net.origins import normalize_origin


def utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    prefix: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    kb_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    replaced_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default="secret", server_default="secret")
    allowed_origins: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


# Columns added after the table was first released, created on databases that lack them.
_ADDED_COLUMNS = {
    "kind": "VARCHAR(16) NOT NULL DEFAULT 'secret'",
    "allowed_origins": "JSON",
}


def add_missing_columns(engine: Engine) -> None:
    present = {column["name"] for column in inspect(engine).get_columns(ApiKeyRow.__tablename__)}
    with engine.begin() as connection:
        for name, ddl in _ADDED_COLUMNS.items():
            if name not in present:
                connection.execute(text(f"ALTER TABLE api_keys ADD COLUMN {name} {ddl}"))


def to_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        prefix=row.prefix,
        name=row.name,
        scopes=tuple(row.scopes),
        kb_ids=tuple(row.kb_ids) if row.kb_ids is not None else None,
        created_at=utc(row.created_at) or now(),
        expires_at=utc(row.expires_at),
        revoked_at=utc(row.revoked_at),
        replaced_by=row.replaced_by,
        kind="publishable" if row.kind == "publishable" else "secret",
        allowed_origins=tuple(row.allowed_origins or ()),
    )


# How long the set of publishable keys' origins is cached; writes through this repository
# invalidate it at once, keys changed by another process are seen after this long.
ORIGINS_CACHE_S = 10.0


def _check_publishable(
    scopes: list[str], kb_ids: list[str] | None, origins: list[str] | None
) -> list[str]:
    """The normalised origins of a valid publishable key, or InvalidInput."""
    if set(scopes) != set(PUBLISHABLE_SCOPES):
        raise InvalidInput("A publishable key has the 'chat' scope only.")
    if not kb_ids or len(set(kb_ids)) != 1:
        raise InvalidInput("A publishable key reaches exactly one knowledge base.")
    if not origins or len(origins) > MAX_ORIGINS:
        raise InvalidInput(
            f"A publishable key needs 1 to {MAX_ORIGINS} allowed origins (the web sites that "
            "embed it)."
        )
    return sorted({normalize_origin(origin) for origin in origins})


def _new_row(
    scopes: list[str],
    kb_ids: list[str] | None,
    name: str,
    kind: KeyKind,
    origins: list[str] | None,
) -> tuple[ApiKeyRow, str]:
    """A key row with a fresh prefix, and its secret (shown once, only its hash is stored)."""
    prefix = f"{MARKS[kind]}{secrets.token_hex(4)}"
    secret = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        prefix=prefix,
        name=name,
        secret_hash=hash_secret(secret),
        scopes=sorted(set(scopes)),
        kb_ids=sorted(set(kb_ids)) if kb_ids else None,
        kind=kind,
        allowed_origins=origins,
    )
    return row, secret


def _already_rotated(prefix: str, successor: str | None) -> KeyAlreadyRotated:
    return KeyAlreadyRotated(
        f"Key {prefix} was already rotated to {successor}; rotate {successor} instead, or "
        f"revoke {prefix} to end its grace period now.",
        replaced_by=successor,
    )


class KeyRepository:
    """Creates, lists, revokes, rotates and checks API keys."""

    def __init__(self, engine: Engine, grace_period: timedelta) -> None:
        Base.metadata.create_all(engine, tables=[ApiKeyRow.__table__])  # type: ignore[list-item]
        add_missing_columns(engine)
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self.grace_period = grace_period
        self._origins_lock = threading.Lock()
        self._origins: tuple[float, frozenset[str]] | None = None

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def create(
        self,
        scopes: list[str],
        kb_ids: list[str] | None = None,
        name: str = "",
        kind: KeyKind = "secret",
        allowed_origins: list[str] | None = None,
    ) -> IssuedKey:
        """A new key; the returned secret is shown once and only its hash is kept.

        A publishable key has exactly the ``chat`` scope, one knowledge base and at least one
        allowed origin; a secret key has no origins.
        """
        check_scopes(scopes)
        origins: list[str] | None = None
        if kind == "publishable":
            origins = _check_publishable(scopes, kb_ids, allowed_origins)
        elif allowed_origins:
            raise InvalidInput("Only publishable keys have allowed origins.")
        for _ in range(5):  # 32 random bits of prefix: a clash is rare but possible
            row, secret = _new_row(scopes, kb_ids, name, kind, origins)
            try:
                with self._session() as session:
                    session.add(row)
            except IntegrityError:
                continue
            self._origins = None
            return IssuedKey(to_key(row), secret)
        raise RuntimeError("could not find a free key prefix")

    def list(self) -> list[ApiKey]:
        """Every key, newest first, without secrets."""
        with self._session() as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc()))
            return [to_key(row) for row in rows]

    def get(self, prefix: str) -> ApiKey:
        """One key by prefix, or ApiKeyNotFound."""
        with self._session() as session:
            return to_key(self._row(session, prefix))

    def revoke(self, prefix: str) -> ApiKey:
        """Refuse the key from now on (idempotent)."""
        with self._session() as session:
            row = self._row(session, prefix)
            row.revoked_at = row.revoked_at or now()
            key = to_key(row)
        self._origins = None
        return key

    def rotate(self, prefix: str, grace_period: timedelta | None = None) -> IssuedKey:
        """A new key with the same name, scopes and knowledge bases; the old one keeps working
        for the grace period.

        A key is rotated once: rotating it again would leave its first replacement active and
        tracked by nothing, so that is KeyAlreadyRotated (rotate the replacement; revoke the
        old key to end its grace period early).
        """
        for _ in range(5):  # a clash of the new prefix is rare but possible
            try:
                with self._session() as session:
                    issued = self._rotate(session, prefix, grace_period)
            except IntegrityError:
                continue
            self._origins = None
            return issued
        raise RuntimeError("could not find a free key prefix")

    def _rotate(self, session: Session, prefix: str, grace_period: timedelta | None) -> IssuedKey:
        old = to_key(self._row(session, prefix))
        if old.replaced_by is not None:
            raise _already_rotated(old.prefix, old.replaced_by)
        if not old.is_active():
            raise InvalidInput(f"Key {prefix} is revoked or expired; create a new one instead.")
        kind: KeyKind = "publishable" if old.kind == "publishable" else "secret"
        origins = list(old.allowed_origins) or None
        row, secret = _new_row(
            list(old.scopes), list(old.kb_ids or []) or None, old.name, kind, origins
        )
        session.add(row)
        session.flush()
        ends = now() + (self.grace_period if grace_period is None else grace_period)
        # Conditional, in the same transaction as the new key: of two rotations at once, one
        # finds the key already replaced and rolls its new key back with it.
        claimed = session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.prefix == prefix, ApiKeyRow.replaced_by.is_(None))
            .values(replaced_by=row.prefix, expires_at=min(ends, old.expires_at or ends))
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            raise _already_rotated(prefix, self._row(session, prefix).replaced_by)
        return IssuedKey(to_key(row), secret)

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key whose secret this is, or None."""
        mark = next((m for m in MARKS.values() if secret.startswith(m)), None)
        if mark is None or len(secret) > 200:
            return None
        prefix = secret[: len(mark) + 8]
        with self._session() as session:
            row = session.get(ApiKeyRow, prefix)
            if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
                return None
            key = to_key(row)
        return key if key.is_active() else None

    def allowed_origins(self) -> frozenset[str]:
        """The origins of every active publishable key (cached briefly)."""
        cached = self._origins
        if cached is not None and time.monotonic() - cached[0] < ORIGINS_CACHE_S:
            return cached[1]
        with self._origins_lock:
            with self._sessions() as session:
                rows = session.scalars(select(ApiKeyRow).where(ApiKeyRow.kind == "publishable"))
                keys = [to_key(row) for row in rows]
            origins = frozenset(o for key in keys if key.is_active() for o in key.allowed_origins)
            self._origins = (time.monotonic(), origins)
        return origins

    @staticmethod
    def _row(session: Session, prefix: str) -> ApiKeyRow:
        row = session.get(ApiKeyRow, prefix)
        if row is None:
            raise ApiKeyNotFound(f"No API key has the prefix {prefix!r}.")
        return row
