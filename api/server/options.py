"""The uvicorn options ``kb serve`` runs with, from the API settings."""

from __future__ import annotations

from typing import Any

from api.server.protocol import ConnectionGuard, guarded_protocol
from kb.settings.service import APISettings


def uvicorn_options(api: APISettings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``: the guarded HTTP protocol (head deadline,
    connections per address) and forwarded headers believed from the trusted proxies only."""
    guard = ConnectionGuard(
        api.header_timeout_s, api.max_connections_per_address, exempt=api.trusted_proxies
    )
    return {
        "http": guarded_protocol(guard),
        # Off unless proxies are named: uvicorn would otherwise believe X-Forwarded-For from
        # FORWARDED_ALLOW_IPS (loopback by default), letting a local client choose its address.
        "proxy_headers": bool(api.trusted_proxies),
        "forwarded_allow_ips": list(api.trusted_proxies),
    }
