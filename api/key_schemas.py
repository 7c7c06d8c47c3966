"""Request and response bodies of the API-key routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kb.keys import ApiKey, IssuedKey, Scope


class KeyCreate(BaseModel):
    """Body of POST /v1/keys."""

    model_config = ConfigDict(extra="forbid")

    scopes: list[Scope] = Field(
        min_length=1, max_length=4, description="admin, kb:write, kb:read or chat."
    )
    kb_ids: list[str] | None = Field(
        None,
        max_length=100,
        description="Knowledge bases (ids or names) the key is restricted to; omit for all.",
    )
    name: str = Field("", max_length=200, description="A label to recognise the key by.")


class KeyRotate(BaseModel):
    """Body of POST /v1/keys/{prefix}/rotate (optional)."""

    model_config = ConfigDict(extra="forbid")

    grace_period_s: int | None = Field(
        None,
        ge=0,
        le=30 * 86_400,
        description="Seconds the old key keeps working; default KB_SECURITY__KEY_GRACE_PERIOD_S.",
    )


class KeyOut(BaseModel):
    """An API key as listed: never its secret."""

    prefix: str
    name: str
    scopes: list[str]
    kb_ids: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None
    active: bool

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        """From the domain model."""
        return cls(
            prefix=key.prefix,
            name=key.name,
            scopes=list(key.scopes),
            kb_ids=list(key.kb_ids) if key.kb_ids is not None else None,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            replaced_by=key.replaced_by,
            active=key.is_active(),
        )


class IssuedKeyOut(KeyOut):
    """A new key with its secret, shown this once."""

    secret: str = Field(description="The key itself; store it now, it cannot be shown again.")

    @classmethod
    def issued(cls, issued: IssuedKey) -> IssuedKeyOut:
        """From a freshly issued key."""
        return cls(**KeyOut.of(issued.key).model_dump(), secret=issued.secret)
