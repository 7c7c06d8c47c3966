"""DOCX parser built on python-docx, with a zip-bomb check before anything is inflated."""

from __future__ import annotations

import io
import zipfile

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from ingest.parsers.base import ParsedDocument, ParseLimits, ParserSpec
from ingest.parsers.sniff import DOCX
from kb.errors import CorruptDocument, NoExtractableText, UnprocessableDocument

_MAX_COMPRESSION_RATIO = 200
# Real Word XML compresses 5-30x; a small member can exceed the ratio harmlessly (a run of
# identical empty styles), so the ratio only condemns members big enough to hurt.
_RATIO_FLOOR_BYTES = 1024 * 1024


class DocxParser:
    """Parses .docx: body paragraphs and tables in document order."""

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Refuse zip bombs, then extract paragraphs and table rows."""
        check_zip_safety(data, limits.max_unzipped_bytes)
        try:
            document = docx.Document(io.BytesIO(data))
        except Exception as exc:
            # python-docx surfaces bad packages as PackageNotFoundError, KeyError, lxml syntax
            # errors and more; to the caller they all mean the file is not a readable .docx.
            raise CorruptDocument(f"the .docx file cannot be read: {exc}") from exc
        blocks = [block for block in _blocks(document) if block]
        if not blocks:
            raise NoExtractableText("the .docx document holds no text")
        text = "\n\n".join(blocks)[: limits.max_text_chars]
        return ParsedDocument(text=text, title=_title(document), media_type=DOCX)


def check_zip_safety(data: bytes, max_unzipped_bytes: int) -> None:
    """Raise unless the zip is readable and inflates to a bounded size at a sane ratio."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise CorruptDocument(f"the .docx file is not a readable zip archive: {exc}") from exc
    total = sum(member.file_size for member in members)
    if total > max_unzipped_bytes:
        raise UnprocessableDocument(
            f"refusing possible decompression bomb: the archive inflates to {total} bytes, "
            f"over the cap of {max_unzipped_bytes} bytes"
        )
    for member in members:
        if member.file_size < _RATIO_FLOOR_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > _MAX_COMPRESSION_RATIO:
            raise UnprocessableDocument(
                f"refusing possible decompression bomb: {member.filename} is compressed "
                f"{ratio:.0f}:1, over the limit of {_MAX_COMPRESSION_RATIO}:1"
            )


def _blocks(document: Document) -> list[str]:
    blocks: list[str] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            blocks.append(_heading_marker(item) + item.text.strip())
        elif isinstance(item, Table):
            blocks.append(_table_text(item))
    return blocks


def _heading_marker(paragraph: Paragraph) -> str:
    """``## `` for a Heading 2 paragraph: headings become Markdown so chunking sees sections."""
    style = paragraph.style.name if paragraph.style is not None else ""
    if not paragraph.text.strip():
        return ""
    if style == "Title":
        return "# "
    level = style.removeprefix("Heading").strip()
    return "#" * min(int(level), 6) + " " if style.startswith("Heading") and level.isdigit() else ""


def _table_text(table: Table) -> str:
    """One line per row, cells joined with " | "; merged cells count once."""
    lines = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[object] = set()
        for cell in row.cells:
            # A merged cell comes back once per grid column it spans; python-docx exposes the
            # underlying <w:tc> element only as ``_tc``.
            if cell._tc in seen:
                continue
            seen.add(cell._tc)
            cells.append(" ".join(cell.text.split()))
        line = " | ".join(cell for cell in cells if cell)
        if line:
            lines.append(line)
    return "\n".join(lines)


def _title(document: Document) -> str | None:
    title = (document.core_properties.title or "").strip()
    if title:
        return title
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if (style == "Title" or style.startswith("Heading")) and paragraph.text.strip():
            return paragraph.text.strip()
    return None


SPEC = ParserSpec(DOCX, (".docx",), DocxParser)
