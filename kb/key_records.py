"""What an API key is: its scopes and kinds, its table (secrets stored as SHA-256 hashes), and
the checks on what a key may be given. ``kb.keys`` holds the repository that issues them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args
from urllib.parse import urlsplit

from sqlalchemy import JSON, DateTime, String, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, mapped_column

from kb.errors import InvalidInput
from kb.tables import Base, now

Scope = Literal["admin", "kb:write", "kb:read", "chat", "metrics"]
SCOPES: tuple[Scope, ...] = get_args(Scope)
KeyKind = Literal["secret", "publishable"]
# What authenticated a caller: a stored key of either kind, or an OAuth access token.
CallerKind = Literal["secret", "publishable", "oauth"]
# A key is `kb_live_<8 hex>_<43 url-safe chars>` (publishable: `kb_pub_...`); the part before
# the last 43 characters is the public prefix.
KEY_MARK = "kb_live_"
PUBLISHABLE_MARK = "kb_pub_"
MARKS: dict[KeyKind, str] = {"secret": KEY_MARK, "publishable": PUBLISHABLE_MARK}
PUBLISHABLE_SCOPES: tuple[Scope, ...] = ("chat",)
MAX_ORIGINS = 20


def utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` as a browser sends it in ``Origin``, or InvalidInput."""
    refused = InvalidInput(
        f"{origin!r} is not an origin: give scheme://host[:port] (http or https), without path, "
        "query, credentials or wildcard."
    )
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError as exc:
        raise refused from exc
    host = parts.hostname or ""
    if (
        parts.scheme.lower() not in ("http", "https")
        or not host
        or "*" in origin
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise refused
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}[scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port not in (None, default) else "")


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
    kind: CallerKind = "secret"
    # Browser origins a publishable key is honoured from; empty for the other kinds.
    allowed_origins: tuple[str, ...] = ()

    def is_active(self, at: datetime | None = None) -> bool:
        """Not revoked and, when rotated, still inside its grace period (at ``at``, or now)."""
        moment = at or now()
        return self.revoked_at is None and (self.expires_at is None or moment < self.expires_at)

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


def check_scopes(scopes: list[str]) -> None:
    """InvalidInput unless ``scopes`` names one or more known scopes."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise InvalidInput(
            f"Scopes must be one or more of {', '.join(SCOPES)}; got {unknown or 'none'}.",
        )
