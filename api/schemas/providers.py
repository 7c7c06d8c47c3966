"""Request and response bodies of the provider-credential routes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kb.access.credentials import StoredCredential

# Printable ASCII without spaces: a key travels in an HTTP header, so no CR/LF can sneak in.
_KEY_PATTERN = r"^[\x21-\x7e]+$"
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
MAX_BASE_URL = 2048


class ProviderCredentialIn(BaseModel):
    """Body of PUT /v1/providers/{provider}."""

    model_config = ConfigDict(extra="forbid")

    api_key: str = Field(
        min_length=1,
        max_length=512,
        pattern=_KEY_PATTERN,
        description="The provider's API key; stored encrypted, never shown again.",
    )
    base_url: str | None = Field(
        None,
        max_length=MAX_BASE_URL,
        description="The provider's API address (http or https), when not its public default. "
        "An operator setting: it may point at an internal server.",
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if _CONTROL.search(value):
            raise ValueError("must not contain spaces or control characters")
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http or https URL with a host")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry credentials; send the key as api_key")
        if parts.fragment:
            raise ValueError("must not have a fragment")
        return value


class ProviderOut(BaseModel):
    """A provider's credential as listed: where it comes from, never the key itself."""

    provider: str
    configured: bool = Field(description="Whether the provider can be used.")
    source: Literal["stored", "environment", "none"] = Field(
        description="'stored' (set over this API, wins), 'environment' (KB_LLM__ settings) "
        "or 'none'."
    )
    key_hint: str | None = Field(description="The stored key's last four characters.")
    base_url: str | None
    updated_at: datetime | None

    @classmethod
    def stored(cls, credential: StoredCredential) -> ProviderOut:
        """A credential stored over the API."""
        return cls(
            provider=credential.provider,
            configured=True,
            source="stored",
            key_hint=credential.key_hint,
            base_url=credential.base_url,
            updated_at=credential.updated_at,
        )

    @classmethod
    def environment(cls, provider: str, configured: bool, base_url: str | None) -> ProviderOut:
        """A provider configured (or not) by the settings only."""
        return cls(
            provider=provider,
            configured=configured,
            source="environment" if configured else "none",
            key_hint=None,
            base_url=base_url,
            updated_at=None,
        )
