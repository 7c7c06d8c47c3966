"""Model-provider credentials set by an administrator, stored Fernet-encrypted (same database as
the registry). A stored credential wins over the environment's for its provider.

Which providers accept one is the model registry's to say (``engine.llms.registry``, from each
provider's spec); the composition root hands their names to ``CredentialRepository``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, String, Text, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.access.secrets import SecretBox
from kb.db.base import Base
from kb.errors import ProviderNotFound


def _now() -> datetime:
    return datetime.now(UTC)


def key_hint(api_key: str) -> str:
    """The non-secret reminder of a key shown in lists: its last four characters."""
    return f"…{api_key[-4:]}" if len(api_key) >= 8 else "…"


class ProviderCredentialRow(Base):
    __tablename__ = "provider_credentials"

    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    api_key_encrypted: Mapped[str] = mapped_column(Text)
    key_hint: Mapped[str] = mapped_column(String(8))
    base_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    # Changes on every write, so a cached client can tell it is stale.
    version: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


@dataclass(frozen=True)
class StoredCredential:
    """What may be shown about a stored credential: never the key."""

    provider: str
    key_hint: str
    base_url: str | None
    updated_at: datetime


@dataclass(frozen=True)
class ProviderSecret:
    """A stored credential decrypted for a model client; ``version`` changes on every write."""

    api_key: str
    base_url: str | None
    version: str

    def __repr__(self) -> str:  # never print the key
        return f"ProviderSecret(base_url={self.base_url!r}, version={self.version!r})"


def _shown(row: ProviderCredentialRow) -> StoredCredential:
    updated = row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)
    return StoredCredential(row.provider, row.key_hint, row.base_url, updated)


class CredentialRepository:
    """Stores, lists, reads and deletes the credentials of ``providers`` (their names); keys are
    encrypted by ``box``."""

    def __init__(self, engine: Engine, box: SecretBox, providers: Iterable[str]) -> None:
        Base.metadata.create_all(engine, tables=[ProviderCredentialRow.__table__])  # type: ignore[list-item]
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._box = box
        self.providers: tuple[str, ...] = tuple(providers)

    def check_provider(self, provider: str) -> str:
        """``provider`` if it is a known provider name, else ProviderNotFound."""
        if provider in self.providers:
            return provider
        raise ProviderNotFound(
            f"No model provider is called {provider[:100]!r}; "
            f"use one of: {', '.join(self.providers)}.",
            known_providers=list(self.providers),
        )

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def put(self, provider: str, api_key: str, base_url: str | None = None) -> StoredCredential:
        """Store (or replace) the provider's key and base URL."""
        name = self.check_provider(provider)
        with self._session() as session:
            row = session.get(ProviderCredentialRow, name) or ProviderCredentialRow(provider=name)
            row.api_key_encrypted = self._box.encrypt(api_key)
            row.key_hint = key_hint(api_key)
            row.base_url = base_url
            row.version = secrets.token_hex(8)
            row.updated_at = _now()
            session.add(row)
            return _shown(row)

    def list(self) -> dict[str, StoredCredential]:
        """Every stored credential by provider, without keys."""
        with self._session() as session:
            rows = session.scalars(select(ProviderCredentialRow))
            return {row.provider: _shown(row) for row in rows}

    def secret(self, provider: str) -> ProviderSecret | None:
        """The decrypted credential of ``provider``, or None when none is stored.

        Raises SecretUnreadable when the encryption key no longer opens it.
        """
        with self._session() as session:
            row = session.get(ProviderCredentialRow, provider)
            if row is None:
                return None
            encrypted, base_url, version = row.api_key_encrypted, row.base_url, row.version
        return ProviderSecret(self._box.decrypt(encrypted), base_url, version)

    def delete(self, provider: str) -> bool:
        """Forget the provider's stored credential; False when there was none."""
        name = self.check_provider(provider)
        with self._session() as session:
            row = session.get(ProviderCredentialRow, name)
            if row is None:
                return False
            session.delete(row)
            return True
