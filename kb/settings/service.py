"""Settings of the HTTP service: chat, API limits, logging, security and webhooks (``KB_CHAT__``,
``KB_API__``, ``KB_LOG__``, ``KB_SECURITY__``, ``KB_WEBHOOK__``); ``kb.settings`` gathers them."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from kb.errors import KBError
from kb.net.origins import normalize_origin


class ChatSettings(BaseModel):
    """Conversations: how much history a follow-up is read with, and how much one conversation
    or user may make the service store (0: no cap)."""

    history_messages: int = Field(
        6,
        description="Earlier messages of a conversation used to rewrite a follow-up question.",
        ge=0,
        le=100,
    )
    llm_rewrite: bool = Field(
        True,
        description="Rewrite follow-ups with the chosen chat model (remote models only); "
        "otherwise, and for the extractive and local models, deterministic rules are used.",
    )
    max_messages_per_conversation: int = Field(
        1000,
        ge=0,
        description="Messages, user and bot together, one conversation may hold; a message "
        "that would leave no room for its reply gets 409 limit_reached (start a new "
        "conversation). 0: no cap.",
    )
    max_conversation_bytes: int = Field(
        4 * 1024 * 1024,
        ge=0,
        description="Bytes the messages of one conversation may take in all (texts, button "
        "actions, citations); once it holds this much, the next turn gets 409 limit_reached "
        "(with unit 'bytes'). 0: no cap.",
    )
    max_events_per_conversation: int = Field(
        50,
        ge=0,
        description="Typing and read events kept per conversation: older ones are deleted as "
        "new ones arrive (the conversation's read_at and typing_at stay current). 0: all kept.",
    )
    max_conversations_per_user: int = Field(
        1000,
        ge=0,
        description="Conversations one user id may start in a knowledge base; one more gets "
        "409 limit_reached. 0: no cap.",
    )
    max_leads_per_conversation: int = Field(
        10,
        ge=0,
        description="Leads one conversation may record; one more gets 409 limit_reached. "
        "0: no cap.",
    )


class APISettings(BaseModel):
    """The HTTP service."""

    host: str = Field("127.0.0.1", description="Address the service listens on.")
    port: int = Field(8000, description="Port the service listens on.")
    max_json_bytes: int = Field(
        5 * 1024 * 1024, description="Largest accepted JSON request body in bytes."
    )
    max_json_depth: int = Field(
        32, ge=2, description="Deepest nesting of arrays and objects in a JSON request body."
    )
    max_json_string_chars: int = Field(
        5_000_000,
        ge=1,
        description="Longest string in a JSON request body (document text is the only long "
        "field; every other field has its own, smaller limit).",
    )
    max_json_items: int = Field(
        100_000, ge=1, description="Most values (strings, numbers, arrays, objects) in a JSON body."
    )
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Browser origins (scheme://host[:port]) allowed to call the API besides the "
        "allowed origins of active publishable keys; no wildcard.",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Seconds a client has to send a request's line and headers, counted from "
        "connecting (or from the first byte of the next request on a kept-alive connection); "
        "then it is answered 408 and disconnected (`kb serve`).",
    )
    body_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Seconds a request body may take beyond what MIN_BODY_BYTES_PER_S allows: it "
        "must arrive within BODY_TIMEOUT_S plus one second per MIN_BODY_BYTES_PER_S bytes "
        "received (time spent waiting for the client only); then 408 and the connection is "
        "closed.",
    )
    min_body_bytes_per_s: int = Field(
        1024,
        ge=1,
        description="The slowest rate, in bytes per second, a request body may arrive at once "
        "BODY_TIMEOUT_S has been spent.",
    )
    max_connections_per_address: int = Field(
        32,
        ge=0,
        description="Connections one client address may hold open at once (0: no cap); one more "
        "is answered 429 and closed (`kb serve`). Connections from TRUSTED_PROXIES are not "
        "counted: the proxy limits its own clients.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="IP addresses or CIDR networks of the reverse proxies whose X-Forwarded-For "
        "and X-Forwarded-Proto are believed (`kb serve`); empty: forwarded headers are ignored "
        "and the connecting address is the client's.",
    )

    @field_validator("cors_origins")
    @classmethod
    def _normalize_origins(cls, origins: list[str]) -> list[str]:

        try:
            return [normalize_origin(origin) for origin in origins]
        except KBError as exc:
            raise ValueError(exc.detail) from exc

    @field_validator("trusted_proxies")
    @classmethod
    def _normalize_proxies(cls, proxies: list[str]) -> list[str]:
        # uvicorn would take a malformed entry for a literal name that never matches: refuse it.
        normalized = []
        for entry in proxies:
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"{entry!r} is not an IP address or CIDR network (no host names, no '*')"
                ) from exc
            single = network.num_addresses == 1
            normalized.append(str(network.network_address) if single else str(network))
        return normalized


class LogSettings(BaseModel):
    """What the service logs, and in which format (``kb serve``)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Lowest level written to stderr."
    )
    format: Literal["json", "text"] = Field(
        "json",
        description="'json': one JSON object per line (ts, level, logger, msg, request_id, ...); "
        "'text': a human-readable line for local development.",
    )
    access_log: bool = Field(
        True,
        description="Write one access-log line per request (method, route, status, duration, "
        "client, key prefix; never query strings, headers or bodies).",
    )


class SecuritySettings(BaseModel):
    """Who may call the API, and how often."""

    auth_enabled: bool = Field(
        True,
        description="Require an API key on every route but health and docs; turn off only for "
        "a local demo.",
    )
    key_grace_period_s: int = Field(
        86_400,
        description="Seconds a rotated API key keeps working after its replacement is issued.",
        ge=0,
    )
    rate_limit: str = Field(
        "100/minute",
        description="Requests allowed per API key and, separately, per client address, in the "
        "'limits' notation (e.g. '100/minute', '10/second;1000/hour'); empty turns it off.",
    )
    publishable_rate_limit: str | None = Field(
        None,
        description="Requests allowed per publishable key (shared by every visitor of the site "
        "that embeds it), in the 'limits' notation; unset means RATE_LIMIT. Each visitor's "
        "address still gets RATE_LIMIT.",
    )
    rate_limit_storage: str = Field(
        "memory://",
        description="Where rate-limit counters live: 'memory://' (in-process) or a 'limits' "
        "storage URI such as 'redis://host:6379' (needs the redis package).",
    )
    encryption_keys: SecretStr | None = Field(
        None,
        description="Fernet keys (comma-separated, newest first) encrypting provider keys and "
        "webhook secrets at rest; when unset a key is generated into DATA_DIR/secret.key.",
    )
    token_ttl_s: int = Field(
        900,
        ge=60,
        le=86_400,
        description="Seconds an OAuth access token from POST /oauth/token stays valid.",
    )
    token_signing_key: SecretStr | None = Field(
        None,
        description="HS256 keys (comma-separated, newest first, each at least 32 characters) "
        "signing OAuth access tokens; tokens signed with any of them are accepted. When unset a "
        "key is generated into DATA_DIR/token-signing.key.",
    )
    metrics_public: bool = Field(
        False,
        description="Serve /metrics without an API key (only where the network keeps it "
        "private); otherwise a key with the 'metrics' (or 'admin') scope is required.",
    )


class WebhookSettings(BaseModel):
    """Webhook deliveries: where they may go, how long they wait, how often they are retried."""

    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names, IP addresses or CIDR networks webhooks may be sent to even "
        "though they are private, loopback or otherwise non-public (JSON list); an entry with a "
        "port ('hooks.internal:8443', '[fd00::1]:443') opens that port only.",
    )
    ca_file: Path | None = Field(
        None,
        description="A PEM file of extra CA certificates trusted for HTTPS receivers (an "
        "internal CA); the public CAs stay trusted.",
    )
    timeout_s: float = Field(10.0, description="Timeout of one delivery attempt.", gt=0)
    max_attempts: int = Field(
        6, description="Attempts of a delivery before it is marked failed.", ge=1, le=50
    )
    base_delay_s: float = Field(
        30.0,
        description="Delay before the first retry; each later retry waits twice as long "
        "(with jitter).",
        ge=0,
    )
    max_delay_s: float = Field(3600.0, description="Longest delay between two attempts.", ge=0)
    workers: int = Field(4, description="Deliveries sent at once.", ge=1, le=64)
    disable_after_failures: int = Field(
        20,
        description="Pause a subscription after this many deliveries in a row ended failed "
        "(0: never); PATCH active=true resumes it.",
        ge=0,
    )
