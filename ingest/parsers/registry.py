"""Media type -> parser factory, and the one entry point that sniffs then parses."""

from __future__ import annotations

from collections.abc import Callable

from ingest.parsers.base import ParsedDocument, ParseLimits, Parser
from ingest.parsers.docx import DocxParser
from ingest.parsers.html import HtmlParser
from ingest.parsers.pdf import PdfParser
from ingest.parsers.sniff import DOCX, HTML, MARKDOWN, PDF, PLAIN, sniff_media_type
from ingest.parsers.text import MarkdownParser, PlainTextParser

PARSERS: dict[str, Callable[[], Parser]] = {
    PDF: PdfParser,
    DOCX: DocxParser,
    HTML: HtmlParser,
    MARKDOWN: MarkdownParser,
    PLAIN: PlainTextParser,
}

SUPPORTED_MEDIA_TYPES: tuple[str, ...] = tuple(PARSERS)


def parse_bytes(
    data: bytes,
    limits: ParseLimits,
    filename: str | None = None,
    declared: str | None = None,
) -> ParsedDocument:
    """Sniff the media type of ``data`` from its content and parse it with the matching parser."""
    media_type = sniff_media_type(data, filename=filename, declared=declared)
    return PARSERS[media_type]().parse(data, limits)
