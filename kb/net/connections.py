"""Outgoing connections: pinned to a vetted address, with certificate checks on the real host."""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import certifi


def pinned_url(url: str, address: str) -> str:
    """``url`` with its host replaced by the vetted ``address`` (send the real Host header and
    SNI with it), so the request never goes to a second, unvetted DNS answer."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def tls_context(ca_file: Path | None = None) -> ssl.SSLContext:
    """Certificate checks for outgoing HTTPS: the public CAs, plus ``ca_file`` (PEM) when given
    (an organisation's internal CA). Host names are checked against the URL's host even though
    connections are pinned to a vetted address (it is sent as SNI)."""
    context = ssl.create_default_context(cafile=certifi.where())
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context
