"""Request and response bodies of the API-key and OAuth-client routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kb.access.models import MAX_ORIGINS, PUBLISHABLE_SCOPES, ApiKey, IssuedKey, KeyKind, Scope
from kb.access.oauth import AccessToken, IssuedClient, OAuthClient


class KeyCreate(BaseModel):
    """Body of POST /v1/keys."""

    model_config = ConfigDict(extra="forbid")

    kind: KeyKind = Field(
        "secret",
        description="secret (servers), or publishable (browsers: chat only, one knowledge base, "
        "allowed origins).",
    )
    scopes: list[Scope] | None = Field(
        None,
        min_length=1,
        max_length=6,
        description="admin, kb:write, kb:read, chat, metrics or agent; required for secret keys, "
        "chat (the default) for publishable ones.",
    )
    kb_ids: list[str] | None = Field(
        None,
        max_length=100,
        description="Knowledge bases (ids or names) the key is restricted to; omit for all. "
        "Exactly one for a publishable key.",
    )
    allowed_origins: list[str] | None = Field(
        None,
        max_length=MAX_ORIGINS,
        description="Publishable keys only: the web origins (scheme://host[:port]) whose pages "
        "may use the key.",
    )
    name: str = Field("", max_length=200, description="A label to recognise the key by.")

    def scope_list(self) -> list[str]:
        """The scopes asked for, defaulting to chat for a publishable key."""
        if self.scopes is None:
            return list(PUBLISHABLE_SCOPES) if self.kind == "publishable" else []
        return list(self.scopes)


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
    kind: KeyKind
    allowed_origins: list[str]

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
            kind="publishable" if key.kind == "publishable" else "secret",
            allowed_origins=list(key.allowed_origins),
        )


class IssuedKeyOut(KeyOut):
    """A new key with its secret, shown this once."""

    secret: str = Field(description="The key itself; store it now, it cannot be shown again.")

    @classmethod
    def issued(cls, issued: IssuedKey) -> IssuedKeyOut:
        """From a freshly issued key."""
        return cls(**KeyOut.of(issued.key).model_dump(), secret=issued.secret)


class OAuthClientCreate(BaseModel):
    """Body of POST /v1/oauth/clients."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200, description="A label to recognise the client by.")
    scopes: list[Scope] = Field(
        min_length=1, max_length=5, description="The most its tokens may carry."
    )
    kb_ids: list[str] | None = Field(
        None,
        max_length=100,
        description="Knowledge bases (ids or names) its tokens are restricted to; omit for all.",
    )


class OAuthClientOut(BaseModel):
    """An OAuth client as listed: never its secret."""

    client_id: str
    name: str
    scopes: list[str]
    kb_ids: list[str] | None
    created_at: datetime
    revoked_at: datetime | None
    active: bool

    @classmethod
    def of(cls, client: OAuthClient) -> OAuthClientOut:
        """From the domain model."""
        return cls(
            client_id=client.client_id,
            name=client.name,
            scopes=list(client.scopes),
            kb_ids=list(client.kb_ids) if client.kb_ids is not None else None,
            created_at=client.created_at,
            revoked_at=client.revoked_at,
            active=client.active,
        )


class IssuedClientOut(OAuthClientOut):
    """A new client with its secret, shown this once."""

    client_secret: str = Field(description="Store it now; it cannot be shown again.")

    @classmethod
    def issued(cls, issued: IssuedClient) -> IssuedClientOut:
        """From a freshly created client."""
        return cls(**OAuthClientOut.of(issued.client).model_dump(), client_secret=issued.secret)


class TokenOut(BaseModel):
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str = Field(description="A signed JWT; send it as 'Authorization: Bearer'.")
    token_type: str = Field("Bearer", description="Always Bearer.")
    expires_in: int = Field(description="Seconds the token stays valid.")
    scope: str = Field(description="The granted scopes, space-separated.")

    @classmethod
    def of(cls, token: AccessToken) -> TokenOut:
        """From an issued token."""
        return cls(access_token=token.access_token, expires_in=token.expires_in, scope=token.scope)
