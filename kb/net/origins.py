"""Browser origins as a browser sends them in `Origin`: one spelling for comparison."""

from __future__ import annotations

from urllib.parse import urlsplit

from kb.errors import InvalidInput


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` as a browser sends it in ``Origin``, or InvalidInput."""
    refused = InvalidInput(
        f"{origin!r} is not an origin: give scheme://host[:port] (http or https), without path, "
        "query, credentials or wildcard."
    )
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError as exc:
        raise refused from exc
    host = parts.hostname or ""
    if (
        parts.scheme.lower() not in ("http", "https")
        or not host
        or "*" in origin
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise refused
    scheme = parts.scheme.lower()
    default = {"http": 80, "https": 443}[scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port not in (None, default) else "")
