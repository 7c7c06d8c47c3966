"""What an API key is: its scopes and kinds, its table (secrets stored as SHA-256 hashes), and
the checks on what a key may be given. ``kb.access.keys`` holds the repository that issues them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from kb.db.base import now
from kb.errors import InvalidInput

Scope = Literal["admin", "kb:write", "kb:read", "chat", "metrics", "agent"]
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


def hash_secret(secret: str) -> str:
    """The stored form of a key: the secret holds 256 random bits, so a plain SHA-256 suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


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


def check_scopes(scopes: list[str]) -> None:
    """InvalidInput unless ``scopes`` names one or more known scopes."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise InvalidInput(
            f"Scopes must be one or more of {', '.join(SCOPES)}; got {unknown or 'none'}.",
        )
