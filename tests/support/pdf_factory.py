"""Build small real text PDFs with pypdf for tests."""

from __future__ import annotations

import io

from pypdf import PdfWriter
from pypdf.generic import ContentStream, DictionaryObject, NameObject, StreamObject


def make_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A PDF with one page per string (Helvetica, one text line per ``\\n``); "" gives a blank page.

    Text is encoded as WinAnsi (cp1252), so characters outside cp1252 become "?".
    """
    writer = PdfWriter()
    for page_text in pages:
        page = writer.add_blank_page(width=612, height=792)
        if not page_text:
            continue
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): _helvetica()})}
        )
        content = ContentStream(None, writer)
        content.set_data(_text_operators(page_text))
        page.replace_contents(content)
    if title is not None:
        writer.add_metadata({"/Title": title})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _helvetica() -> DictionaryObject:
    # A standard-14 font needs no embedding, and WinAnsiEncoding lets pypdf map bytes back to text.
    return DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )


def _text_operators(text: str) -> bytes:
    """BT ... ET drawing each line of ``text`` below the previous one."""
    lines = [_pdf_string(line) + b" Tj" for line in text.split("\n")]
    return b"BT /F1 12 Tf 14 TL 72 720 Td " + b" T* ".join(lines) + b" ET"


def _pdf_string(line: str) -> bytes:
    escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252", errors="replace") + b")"


def make_slow_pdf(pages: int = 8, operators: int = 250_000) -> bytes:
    """A ~5 KB PDF that costs pypdf ~4 s of CPU per page while respecting every cap.

    Its ``pages`` pages share one Flate-compressed content stream of ``operators`` tiny ``Tj``
    text operators, which compresses ~400:1 and is parsed again for each page.
    """
    writer = PdfWriter()
    body = StreamObject()
    body.set_data(b"BT /F1 12 Tf 72 720 Td " + b"(a) Tj " * operators + b"ET")
    shared = writer._add_object(body.flate_encode(level=9))
    font = writer._add_object(_helvetica())
    for _ in range(pages):
        page = writer.add_blank_page(width=612, height=792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        page[NameObject("/Contents")] = shared
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()
