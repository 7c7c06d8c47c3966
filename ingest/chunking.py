"""Sentence-aware chunking through llama-index's SentenceSplitter, with offsets and pages kept."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter

from ingest.parsers.base import ParsedDocument

Tokenizer = Callable[[str], list[int]]


@dataclass(frozen=True)
class ChunkSpan:
    """A passage's text and where it sits in the document."""

    index: int
    text: str
    start_char: int
    end_char: int
    page: int | None
    page_end: int | None
    section: str | None = None


class SentenceChunker:
    """Cuts text into passages of about ``chunk_size`` tokens on sentence boundaries."""

    def __init__(self, chunk_size: int, chunk_overlap: int, tokenizer: Tokenizer) -> None:
        if chunk_overlap >= chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        # The tokenizer is the embedding model's own, so a chunk fits what the model reads;
        # llama-index's default (tiktoken) would also try to download its vocabulary.
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            tokenizer=tokenizer,
            paragraph_separator="\n\n",
        )

    def split(self, doc: ParsedDocument) -> list[ChunkSpan]:
        """The document's passages in order, each located in the document text.

        Paged documents are split page by page, so every passage cites exactly one page; other
        documents section by section (at Markdown headings, which the HTML and DOCX parsers
        also emit), so a passage never mixes two topics.
        """
        sections = _page_sections(doc) or _heading_sections(doc.text)
        spans: list[ChunkSpan] = []
        for start, end, heading in sections:
            for offset, text in self._split_section(doc.text[start:end]):
                spans.append(
                    ChunkSpan(
                        index=len(spans),
                        text=text,
                        start_char=start + offset,
                        end_char=start + offset + len(text),
                        page=doc.page_at(start + offset),
                        page_end=doc.page_at(start + offset + max(len(text) - 1, 0)),
                        section=heading,
                    )
                )
        return spans

    def _split_section(self, section: str) -> list[tuple[int, str]]:
        found = []
        cursor = 0
        for text in self._splitter.split_text(section):
            text = text.strip()
            if not text:
                continue
            offset = _locate(section, text, cursor)
            # Overlapping chunks start before the previous one ended; search on from its start.
            cursor = offset + 1
            found.append((offset, text))
        return found


_HEADING = re.compile(r"^(#{1,6})[ \t]+(\S[^\n]*)$", re.M)
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.M)


def _page_sections(doc: ParsedDocument) -> list[tuple[int, int, str | None]]:
    return [(p.start, p.end, None) for p in doc.pages]


def _heading_sections(text: str) -> list[tuple[int, int, str | None]]:
    """``(start, end, heading)`` per section; a heading with no body joins the next section,
    and trailing headings with no body are dropped."""
    fences = [m.start() for m in _FENCE.finditer(text)]
    starts = [
        (m.start(), m.group(2).strip())
        for m in _HEADING.finditer(text)
        # A "# comment" inside a fenced code block is not a heading.
        if sum(1 for f in fences if f < m.start()) % 2 == 0
    ]
    bounds: list[tuple[int, str | None]] = [(0, None)] if not starts or starts[0][0] > 0 else []
    bounds += starts
    sections: list[tuple[int, int, str | None]] = []
    carry: int | None = None
    for i, (start, heading) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else len(text)
        body = _HEADING.sub("", text[start:end]).strip()
        if not body:
            carry = start if carry is None else carry
            continue
        sections.append((start if carry is None else carry, end, heading))
        carry = None
    return sections or [(0, len(text), None)]


def _locate(haystack: str, needle: str, cursor: int) -> int:
    """Offset of ``needle`` at or after ``cursor``; falls back to its first words when the
    splitter normalised whitespace inside the chunk."""
    found = haystack.find(needle, cursor)
    if found >= 0:
        return found
    head = needle[:40]
    found = haystack.find(head, cursor)
    if found >= 0:
        return found
    found = haystack.find(needle.split()[0], cursor) if needle.split() else -1
    return found if found >= 0 else min(cursor, len(haystack))
