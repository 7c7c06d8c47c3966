"""The console's script and style sheet: committed files, served by the engine with a strong
ETag and a day of caching (pages name them with their hash, so a new release is fetched)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from api.web.asset import StaticAsset

STATIC = Path(__file__).resolve().parents[1] / "web" / "console" / "static"
MEDIA_TYPES = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css"}


@cache
def asset(name: str) -> StaticAsset | None:
    """One of the console's static files (read once), or None for any other name."""
    if name not in MEDIA_TYPES:
        return None
    return StaticAsset.read(STATIC / name)


def version(name: str) -> str:
    """A short content hash naming the file's version, for cache-busting URLs."""
    found = asset(name)
    return found.etag.strip('"')[:12] if found else ""
