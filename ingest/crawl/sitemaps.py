"""Sitemaps (sitemaps.org): URL sets and sitemap indexes, plain or gzipped, read with caps."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

# The protocol's own limit for one sitemap file, uncompressed.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Sitemap:
    """What one sitemap file lists: page URLs, or (for an index) more sitemaps."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def gunzip_capped(data: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """Decompress gzip data, refusing output over ``limit`` bytes (gzip bombs)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise ValueError(f"the gzipped sitemap inflates to more than {limit} bytes")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_sitemap(data: bytes, limit: int = MAX_SITEMAP_BYTES) -> Sitemap:
    """The <loc> entries of a sitemap or sitemap index; raises ValueError when unreadable.

    Gzip is detected from the bytes, since servers label .xml.gz files every which way.
    """
    if data.startswith(_GZIP_MAGIC):
        data = gunzip_capped(data, limit)
    if b"<!ENTITY" in data[:4096].upper():
        # Sitemaps never need entity declarations; refusing them rules out entity expansion.
        raise ValueError("the sitemap declares XML entities")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ValueError(f"the sitemap is not well-formed XML: {exc}") from exc
    result = Sitemap()
    kind = _local(root.tag)
    target = result.sitemaps if kind == "sitemapindex" else result.pages
    if kind not in {"sitemapindex", "urlset"}:
        raise ValueError(f"not a sitemap: the root element is <{kind}>")
    for entry in root:
        for child in entry:
            if _local(child.tag) == "loc" and child.text and child.text.strip():
                target.append(child.text.strip())
    return result
