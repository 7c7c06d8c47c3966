"""widget.js as served: read once, compressed once, named by a content hash (its ETag)."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

WIDGET_PATH = Path(__file__).with_name("widget.js")


@dataclass(frozen=True)
class StaticAsset:
    """A file's bytes, their gzip encoding and a strong ETag."""

    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def read(cls, path: Path) -> StaticAsset:
        """The asset for ``path``; gzip's mtime is fixed so the encoding is reproducible."""
        body = path.read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(body, gzip.compress(body, compresslevel=9, mtime=0), f'"{digest}"')

    def matches(self, if_none_match: str | None) -> bool:
        """Whether an ``If-None-Match`` header names this version (weak tags count too)."""
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


@cache
def widget_asset() -> StaticAsset:
    """widget.js, read on first use (a changed file is served after a restart)."""
    return StaticAsset.read(WIDGET_PATH)
