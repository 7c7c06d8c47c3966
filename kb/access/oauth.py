"""OAuth 2.0 client credentials (RFC 6749 §4.4): clients and short-lived signed access tokens.

A client is stored like an API key (its secret shown once, only a SHA-256 hash kept) with
scopes and an optional knowledge-base restriction. Access tokens are HS256 JWTs (PyJWT) naming
the client (``sub``), the granted ``scope`` and ``kb_ids``; they are checked against the client
row on every use, so revoking a client ends its tokens at once. The signing keys come from
``KB_SECURITY__TOKEN_SIGNING_KEY`` (newest first; older ones still verify) or, when unset, from a
key generated once into ``DATA_DIR/token-signing.key`` (mode 0600).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
from sqlalchemy import JSON, DateTime, String, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.access.models import SCOPES, ApiKey, check_scopes, hash_secret
from kb.db.base import Base
from kb.errors import OAuthClientNotFound, OAuthInvalidScope

log = logging.getLogger(__name__)
CLIENT_MARK = "kbc_"
KEY_FILE = "token-signing.key"
ISSUER = "kb-engine"
AUDIENCE = "kb-engine-api"
ALGORITHM = "HS256"
MIN_KEY_CHARS = 32
_REQUIRED_CLAIMS = ["iss", "sub", "aud", "iat", "exp", "jti", "scope"]


def _now() -> datetime:
    return datetime.now(UTC)


class OAuthClientRow(Base):
    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    kb_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class OAuthClient:
    """What is known about a client, never its secret."""

    client_id: str
    name: str
    scopes: tuple[str, ...]
    kb_ids: tuple[str, ...] | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        """Not revoked."""
        return self.revoked_at is None


@dataclass(frozen=True)
class IssuedClient:
    """A new client and its secret, which is never available again."""

    client: OAuthClient
    secret: str


@dataclass(frozen=True)
class AccessToken:
    """A token response's content (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    scope: str


def _to_client(row: OAuthClientRow) -> OAuthClient:
    def utc(value: datetime | None) -> datetime | None:
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)

    return OAuthClient(
        client_id=row.client_id,
        name=row.name,
        scopes=tuple(row.scopes),
        kb_ids=tuple(row.kb_ids) if row.kb_ids is not None else None,
        created_at=utc(row.created_at) or _now(),
        revoked_at=utc(row.revoked_at),
    )


class OAuthClientRepository:
    """Creates, lists, revokes and authenticates OAuth clients."""

    def __init__(self, engine: Engine) -> None:
        Base.metadata.create_all(engine, tables=[OAuthClientRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def create(
        self, scopes: list[str], kb_ids: list[str] | None = None, name: str = ""
    ) -> IssuedClient:
        """A new client; the returned secret is shown once and only its hash is kept."""
        check_scopes(scopes)
        client_id = f"{CLIENT_MARK}{secrets.token_hex(12)}"  # 96 random bits: no clash to retry
        secret = secrets.token_urlsafe(32)
        row = OAuthClientRow(
            client_id=client_id,
            name=name,
            secret_hash=hash_secret(secret),
            scopes=sorted(set(scopes)),
            kb_ids=sorted(set(kb_ids)) if kb_ids else None,
        )
        with self._session() as session:
            session.add(row)
        return IssuedClient(_to_client(row), secret)

    def list(self) -> list[OAuthClient]:
        """Every client, newest first, without secrets."""
        with self._session() as session:
            rows = session.scalars(
                select(OAuthClientRow).order_by(OAuthClientRow.created_at.desc())
            )
            return [_to_client(row) for row in rows]

    def get(self, client_id: str) -> OAuthClient:
        """One client, or OAuthClientNotFound."""
        with self._session() as session:
            return _to_client(self._row(session, client_id))

    def revoke(self, client_id: str) -> OAuthClient:
        """Refuse the client, and every token issued to it, from now on (idempotent)."""
        with self._session() as session:
            row = self._row(session, client_id)
            row.revoked_at = row.revoked_at or _now()
            return _to_client(row)

    def authenticate(self, client_id: str, secret: str) -> OAuthClient | None:
        """The active client with this id and secret, or None."""
        if len(client_id) > 40 or len(secret) > 200:
            return None
        with self._session() as session:
            row = session.get(OAuthClientRow, client_id)
            if row is None or not hmac.compare_digest(row.secret_hash, hash_secret(secret)):
                return None
            client = _to_client(row)
        return client if client.active else None

    def find_active(self, client_id: str) -> OAuthClient | None:
        """The client if it exists and is not revoked."""
        with self._session() as session:
            row = session.get(OAuthClientRow, client_id)
            client = _to_client(row) if row is not None else None
        return client if client is not None and client.active else None

    @staticmethod
    def _row(session: Session, client_id: str) -> OAuthClientRow:
        row = session.get(OAuthClientRow, client_id)
        if row is None:
            raise OAuthClientNotFound(f"No OAuth client has the id {client_id!r}.")
        return row


def signing_keys(configured: str | None, data_dir: Path) -> list[str]:
    """The configured signing keys (newest first), or the one generated into ``data_dir``."""
    if configured and configured.strip():
        keys = [key.strip() for key in configured.split(",") if key.strip()]
        if any(len(key) < MIN_KEY_CHARS for key in keys):
            raise ValueError(
                f"KB_SECURITY__TOKEN_SIGNING_KEY: each key needs at least {MIN_KEY_CHARS} "
                "characters"
            )
        return keys
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        log.warning(
            "no KB_SECURITY__TOKEN_SIGNING_KEY set: generated %s to sign OAuth tokens; set the "
            "variable when several processes serve the API",
            path,
        )
    return [path.read_text().strip()]


def _holds(client: OAuthClient, scope: str) -> bool:
    """``admin`` implies every scope, as for keys."""
    return scope in client.scopes or "admin" in client.scopes


def _granted_scopes(client: OAuthClient, requested: str | None) -> list[str]:
    """The scopes a token gets: all of the client's, or the requested subset."""
    if requested is None or not requested.strip():
        return list(client.scopes)
    wanted = sorted(set(requested.split()))
    beyond = [s for s in wanted if s not in SCOPES or not _holds(client, s)]
    if beyond:
        raise OAuthInvalidScope(
            f"The client may not have {', '.join(beyond)}; its scopes: {' '.join(client.scopes)}."
        )
    return wanted


class OAuthService:
    """Issues access tokens to clients and turns valid tokens back into callers."""

    def __init__(self, clients: OAuthClientRepository, keys: list[str], ttl_s: int) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self.clients = clients
        self._keys = keys
        self.ttl_s = ttl_s

    def issue(self, client: OAuthClient, requested_scope: str | None = None) -> AccessToken:
        """A signed access token for ``client``, narrowed to ``requested_scope`` if given."""
        scopes = _granted_scopes(client, requested_scope)
        now = int(_now().timestamp())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": client.client_id,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + self.ttl_s,
            "jti": secrets.token_hex(16),
            "scope": " ".join(scopes),
            "kb_ids": list(client.kb_ids) if client.kb_ids is not None else None,
        }
        token = jwt.encode(claims, self._keys[0], algorithm=ALGORITHM)
        return AccessToken(token, self.ttl_s, claims["scope"])

    def _claims(self, token: str) -> dict[str, Any] | None:
        for key in self._keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    token,
                    key,
                    algorithms=[ALGORITHM],  # never "none", never what the token names
                    audience=AUDIENCE,
                    issuer=ISSUER,
                    options={"require": _REQUIRED_CLAIMS},
                )
            except jwt.InvalidSignatureError:
                continue  # perhaps signed with an older key
            except jwt.InvalidTokenError:
                return None
            return claims
        return None

    def authenticate(self, token: str) -> ApiKey | None:
        """The caller a valid token of an active client stands for, or None."""
        if token.count(".") != 2 or len(token) > 4096:
            return None
        claims = self._claims(token)
        if claims is None or not isinstance(claims["sub"], str):
            return None
        client = self.clients.find_active(claims["sub"])
        if client is None:
            return None
        granted = str(claims["scope"]).split()
        # A token never carries more than its client has now.
        scopes = tuple(s for s in granted if _holds(client, s))
        return ApiKey(
            prefix=client.client_id,
            name=client.name,
            scopes=scopes,
            kb_ids=client.kb_ids,  # the client row is authoritative, as for its scopes
            created_at=client.created_at,
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
            revoked_at=None,
            replaced_by=None,
            kind="oauth",
        )
