"""The parser specs by media type, and the one entry point that sniffs then parses."""

from __future__ import annotations

from collections.abc import Callable

from ingest.parsers import docx, html, pdf, text
from ingest.parsers.base import ParsedDocument, ParseLimits, Parser, ParserSpec
from ingest.parsers.sniff import sniff_media_type

# The formats the engine ingests, one spec per parser module (a new format: its module, one
# line here, and its signature in ``ingest.parsers.sniff`` when it is not text).
SPECS: tuple[ParserSpec, ...] = (
    pdf.SPEC,
    docx.SPEC,
    html.SPEC,
    text.MARKDOWN_SPEC,
    text.PLAIN_SPEC,
)

PARSERS: dict[str, Callable[[], Parser]] = {spec.media_type: spec.parser for spec in SPECS}
SUPPORTED_MEDIA_TYPES: tuple[str, ...] = tuple(PARSERS)
# File suffixes read when ingesting a directory.
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(suffix for spec in SPECS for suffix in spec.suffixes)
# Types whose parse is linear in the size of the input, so a worker process would cost them
# more than it protects (ingest.parsers.isolation).
LINEAR_TIME_TYPES: frozenset[str] = frozenset(s.media_type for s in SPECS if s.linear_time)


def parse_bytes(
    data: bytes,
    limits: ParseLimits,
    filename: str | None = None,
    declared: str | None = None,
) -> ParsedDocument:
    """Sniff the media type of ``data`` from its content and parse it with the matching parser."""
    media_type = sniff_media_type(data, filename=filename, declared=declared)
    return parse_as(media_type, data, limits)


def parse_as(media_type: str, data: bytes, limits: ParseLimits) -> ParsedDocument:
    """Parse ``data`` with the parser of ``media_type`` (one of ``SUPPORTED_MEDIA_TYPES``)."""
    return PARSERS[media_type]().parse(data, limits)
