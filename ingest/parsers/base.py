"""What every parser produces, and the parser seam."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class PageSpan:
    """Characters ``[start, end)`` of the document text come from page ``page`` (1-based)."""

    start: int
    end: int
    page: int


@dataclass(frozen=True)
class ParsedDocument:
    """Plain text extracted from one source, with its title and (for paged formats) pages."""

    text: str
    title: str | None
    media_type: str
    pages: list[PageSpan] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        """The page holding character ``offset``, or None for formats without pages."""
        for span in self.pages:
            if span.start <= offset < span.end:
                return span.page
        if self.pages and offset >= self.pages[-1].end:
            return self.pages[-1].page
        return None


@dataclass(frozen=True)
class ParseLimits:
    """Caps that protect the parsers from hostile input."""

    max_pdf_pages: int = 2000
    max_unzipped_bytes: int = 200 * 1024 * 1024
    max_text_chars: int = 20_000_000
    # Wall-clock seconds one document's parse may take (ingest.parsers.isolation).
    parse_timeout_s: float = 20.0


class Parser(Protocol):
    """Turns the bytes of one media type into text."""

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Extract text; raise a kb.errors.UnprocessableDocument subclass when impossible."""


@dataclass(frozen=True)
class ParserSpec:
    """One format the engine ingests, as its parser module declares it: the media type sniffing
    names, the file suffixes read from directories, the parser, and whether its parse is linear
    in the input (then it runs in the caller instead of a budgeted worker process)."""

    media_type: str
    suffixes: tuple[str, ...]
    parser: Callable[[], Parser]
    linear_time: bool = False
