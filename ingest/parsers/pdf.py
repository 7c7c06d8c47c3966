"""PDF parser built on pypdf: text per page, with page spans for citations."""

from __future__ import annotations

import io

from pypdf import PdfReader
from pypdf.errors import DependencyError

from ingest.parsers.base import PageSpan, ParsedDocument, ParseLimits, ParserSpec
from ingest.parsers.sniff import PDF
from kb.errors import CorruptDocument, NoExtractableText, UnprocessableDocument

_PAGE_SEPARATOR = "\n\n"


class PdfParser:
    """Parses application/pdf with pypdf; scanned pages without a text layer yield nothing."""

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Extract the text of every page and record which characters came from which page."""
        reader = _open(data)
        page_count = _page_count(reader)
        if page_count > limits.max_pdf_pages:
            raise UnprocessableDocument(
                f"the PDF has {page_count} pages, over the cap of {limits.max_pdf_pages} pages"
            )
        text, spans = _join_pages(_page_texts(reader, page_count), limits.max_text_chars)
        if not spans:
            raise NoExtractableText(
                "no page of the PDF holds text; scanned PDFs need OCR, which is not supported"
            )
        return ParsedDocument(text=text, title=_title(reader), media_type=PDF, pages=spans)


# pypdf raises a wide, undocumented range of exceptions on malformed input (PdfReadError, but also
# KeyError, ValueError, TypeError, zlib.error, RecursionError...), so each pypdf call below catches
# Exception and reports the file as corrupt.


def _open(data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
    except Exception as exc:
        raise CorruptDocument(f"the PDF cannot be read: {exc}") from exc
    if encrypted:
        _decrypt_with_empty_password(reader)
    return reader


def _decrypt_with_empty_password(reader: PdfReader) -> None:
    """Many PDFs are encrypted only to set permissions; their user password is empty."""
    try:
        unlocked = reader.decrypt("")
    except DependencyError as exc:
        raise CorruptDocument(
            f"the PDF is encrypted with AES, which needs the 'cryptography' package: {exc}"
        ) from exc
    except Exception as exc:
        raise CorruptDocument(f"the PDF encryption cannot be read: {exc}") from exc
    if not unlocked:
        raise CorruptDocument("the PDF is encrypted and needs a password")


def _page_count(reader: PdfReader) -> int:
    try:
        count = len(reader.pages)
    except Exception as exc:
        raise CorruptDocument(f"the PDF page tree cannot be read: {exc}") from exc
    if count == 0:
        raise CorruptDocument("the PDF has no pages")
    return count


def _page_texts(reader: PdfReader, page_count: int) -> list[str]:
    """Text of each page; a page pypdf cannot read counts as empty unless all of them fail."""
    texts: list[str] = []
    failure: Exception | None = None
    for index in range(page_count):
        try:
            raw = reader.pages[index].extract_text()
        except Exception as exc:
            # One odd page (an exotic font, a broken stream) should not cost the whole document.
            failure, raw = exc, ""
        texts.append(raw.replace("\r\n", "\n").replace("\r", "\n").strip())
    if failure is not None and not any(texts):
        raise CorruptDocument(f"no page of the PDF can be read: {failure}") from failure
    return texts


def _join_pages(texts: list[str], max_chars: int) -> tuple[str, list[PageSpan]]:
    """Join non-empty pages; spans stop at the text cap."""
    parts: list[str] = []
    spans: list[PageSpan] = []
    offset = 0
    for page, page_text in enumerate(texts, start=1):
        if not page_text:
            continue
        if parts:
            parts.append(_PAGE_SEPARATOR)
            offset += len(_PAGE_SEPARATOR)
        if offset >= max_chars:
            break
        page_text = page_text[: max_chars - offset]
        parts.append(page_text)
        spans.append(PageSpan(start=offset, end=offset + len(page_text), page=page))
        offset += len(page_text)
    return "".join(parts)[:max_chars], spans


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:
        # A broken info dictionary costs the title, not the document.
        return None
    if not isinstance(title, str):
        return None
    return title.strip() or None


SPEC = ParserSpec(PDF, (".pdf",), PdfParser)
