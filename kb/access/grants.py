"""Granting access: API keys and OAuth clients restricted to knowledge bases named by id or
name."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kb.access.keys import KeyRepository
from kb.access.models import IssuedKey, KeyKind
from kb.access.oauth import IssuedClient, OAuthClientRepository

# Knowledge-base ids for ids or names; KnowledgeBaseNotFound for an unknown one
# (``Catalog.resolve_kb_ids``): passed in, so access control does not reach into the indexes.
KbResolver = Callable[[Iterable[str]], list[str]]


class Grants:
    """Creates keys and OAuth clients, resolving the knowledge bases they are restricted to."""

    def __init__(
        self, keys: KeyRepository, clients: OAuthClientRepository, resolve_kb_ids: KbResolver
    ) -> None:
        self._keys = keys
        self._clients = clients
        self._resolve_kb_ids = resolve_kb_ids

    def create_key(
        self,
        scopes: list[str],
        kb_refs: list[str] | None = None,
        name: str = "",
        kind: KeyKind = "secret",
        allowed_origins: list[str] | None = None,
    ) -> IssuedKey:
        """A new key (``KeyRepository.create``) limited to ``kb_refs`` (none: every one)."""
        return self._keys.create(scopes, self._kb_ids(kb_refs), name, kind, allowed_origins)

    def create_client(
        self, scopes: list[str], kb_refs: list[str] | None = None, name: str = ""
    ) -> IssuedClient:
        """A new OAuth client limited to ``kb_refs`` (none: every knowledge base)."""
        return self._clients.create(scopes, self._kb_ids(kb_refs), name)

    def _kb_ids(self, refs: list[str] | None) -> list[str] | None:
        # KnowledgeBaseNotFound for an unknown one, before anything is created.
        return self._resolve_kb_ids(refs) if refs else None
