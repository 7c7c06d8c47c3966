"""Decide what an upload is from its bytes, and decode text of unknown encoding."""

from __future__ import annotations

import codecs
import io
import re
import zipfile

import charset_normalizer
import filetype

from kb.errors import EmptyDocument, UnsupportedMediaType

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
HTML = "text/html"
MARKDOWN = "text/markdown"
PLAIN = "text/plain"

# UTF-32 first: its little-endian BOM starts with the UTF-16 one.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# C0 controls only: C1 characters (U+0080-U+009F) are common in real mojibake text
# ("itâ\x80\x99s"), which users still want indexed; binary decoded as text is full of C0 anyway.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_MAX_CONTROL_SHARE = 0.05
# Short Western text is ambiguous to charset_normalizer (it happily picks cp1251 or cp1006 for
# "café"); like the WHATWG default, windows-1252 wins whenever it decodes as cleanly as the best.
_PREFERRED_LEGACY = "cp1252"
# Text formats with a distinctive signature that we still cannot turn into prose.
_TEXTUAL_BUT_UNSUPPORTED = frozenset({"application/rtf", "application/postscript"})

_PDF_HEADER = b"%PDF-"
# Readers find a PDF's header after up to 1 KB of junk (Acrobat's rule; pypdf when not strict).
_PDF_HEADER_WINDOW = 1024
# What a sender means by "this is text": its Content-Type, or its file name.
_TEXT_TYPES = frozenset({PLAIN, MARKDOWN, "text/x-markdown", "application/json"})
_TEXT_SUFFIXES = frozenset({"txt", "text", "md", "markdown", "json"})

# Each pattern here runs on untrusted text in the server process, so each is linear: a loop
# skips the comments before an HTML start tag (``(?:<!--.*?-->)*`` in one pattern backtracks
# exponentially over a run of comments), and link text and targets exclude the brackets that
# open the next one (else every "[" rescans the rest of its line: quadratic).
_LEADING_SPACE = re.compile(r"\s*")
_XML_DECLARATION = re.compile(r"<\?xml[^>]*\?>", re.I)
_HTML_OPENING = re.compile(r"<(?:!doctype\s+html|html|head|body)[\s>/]", re.I)
_ANY_TAG = re.compile(r"<[a-zA-Z][a-zA-Z0-9]*[\s>/]")
_MD_HEADING = re.compile(r"^#{1,6}[ \t]+\S", re.M)
_MD_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.M)
_MD_LINK = re.compile(r"\[[^\[\]\n]+\]\([^\[)\s]+\)")


def decode_text(data: bytes) -> str:
    """Decode text of any common encoding, with newlines normalised to ``\\n``."""
    text = _decode(data)
    if text.startswith("\ufeff"):
        text = text[1:]
    if text and len(_CONTROL.findall(text)) / len(text) > _MAX_CONTROL_SHARE:
        raise UnsupportedMediaType("the content looks like binary data, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _decode(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            # A byte-order mark is a strong declaration; a stray bad byte should not sink it.
            return data.decode(encoding, errors="replace")
    if b"\x00" in data:
        nul_detail = "the content holds NUL bytes: binary data, not text"
        utf16 = _bomless_utf16(data)
        if utf16 is None:
            raise UnsupportedMediaType(nul_detail)
        try:
            return data.decode(utf16)
        except UnicodeDecodeError as exc:
            raise UnsupportedMediaType(nul_detail) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return _decode_legacy(data)


def _bomless_utf16(data: bytes) -> str | None:
    """UTF-16 without a BOM shows as NULs in every other byte (for mostly-Latin text)."""
    if len(data) < 4 or len(data) % 2:
        return None
    half = len(data) // 2
    even_nuls, odd_nuls = data[0::2].count(0), data[1::2].count(0)
    if odd_nuls >= 0.7 * half and even_nuls <= 0.1 * half:
        return "utf-16-le"
    if even_nuls >= 0.7 * half and odd_nuls <= 0.1 * half:
        return "utf-16-be"
    return None


def _decode_legacy(data: bytes) -> str:
    # Without NULs a UTF-16/32 guess is nonsense (it reads ASCII pairs as CJK characters).
    matches = [
        m
        for m in charset_normalizer.from_bytes(data)
        if not m.encoding.startswith(("utf_16", "utf_32"))
    ]
    if not matches:
        raise UnsupportedMediaType("the text encoding could not be detected; is this binary data?")
    least_chaos = min(m.chaos for m in matches)
    for match in matches:
        if match.chaos <= least_chaos + 0.01 and _PREFERRED_LEGACY in match.could_be_from_charset:
            return data.decode(_PREFERRED_LEGACY, errors="replace")
    return str(matches[0])


def sniff_media_type(data: bytes, filename: str | None = None, declared: str | None = None) -> str:
    """The media type of ``data`` judged from its content; name and declared type break ties."""
    if not data.strip():
        raise EmptyDocument("the document is empty or holds only whitespace")
    suffix, declared_type = _suffix(filename), _base_type(declared)
    # Text its sender calls text, in bytes that are valid UTF-8, is text: a signature in it (a
    # note quoting "%PDF-1.7") is quoted, not a format. Real PDFs and DOCX files are not
    # valid UTF-8 (binary comment line, compressed streams), so this never hides one.
    said_text = declared_type in _TEXT_TYPES or suffix in _TEXT_SUFFIXES
    if not (said_text and _is_utf8(data)):
        if _has_pdf_header(data):
            return PDF
        if data.startswith(b"PK\x03\x04"):
            return _sniff_zip(data)
    kind = filetype.guess(data)
    try:
        text = decode_text(data)
    except UnsupportedMediaType:
        if kind is not None:
            raise UnsupportedMediaType(_unsupported_kind(kind.mime, kind.extension)) from None
        raise
    # Two-byte signatures ("BM", "MZ") also start ordinary sentences, so clean text wins over
    # them; only text-shaped formats we cannot read are refused here.
    if kind is not None and kind.mime in _TEXTUAL_BUT_UNSUPPORTED:
        raise UnsupportedMediaType(_unsupported_kind(kind.mime, kind.extension))
    if not text.strip():
        raise EmptyDocument("the document is empty or holds only whitespace")
    return _text_flavour(text, suffix, declared_type)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_pdf_header(data: bytes) -> bool:
    """``%PDF-`` at the start, or after a little junk (a mail or printer header) before a body
    that is binary: text that merely mentions ``%PDF-`` is not a PDF."""
    if data.startswith(_PDF_HEADER):
        return True
    return _PDF_HEADER in data[:_PDF_HEADER_WINDOW] and not _is_utf8(data)


def _sniff_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        # A damaged .docx still names its main part in a local header; let the parser say corrupt.
        if b"word/document.xml" in data:
            return DOCX
        raise UnsupportedMediaType(
            "unreadable zip archive; zip archives are not supported"
        ) from None
    if "word/document.xml" in names:
        return DOCX
    raise UnsupportedMediaType(
        "zip archive that is not a .docx document; zip archives are not supported"
    )


def _unsupported_kind(mime: str, extension: str) -> str:
    return f"content detected as {mime} (.{extension}), which is not supported"


def _suffix(filename: str | None) -> str:
    if not filename or "." not in filename:
        return ""
    return filename.rsplit(".", 1)[1].lower()


def _base_type(declared: str | None) -> str:
    return (declared or "").split(";", 1)[0].strip().lower()


def _text_flavour(text: str, suffix: str, declared: str) -> str:
    head = text[:65536]
    # Markup in text declared as text stays text, as browsers keep text/plain; a file name only
    # suggests (a page saved as .txt is still a page).
    if declared not in _TEXT_TYPES:
        if _starts_as_html(head):
            return HTML
        if (suffix in ("html", "htm") or declared == HTML) and _ANY_TAG.search(head):
            return HTML
    if suffix in ("md", "markdown") or declared in (MARKDOWN, "text/x-markdown"):
        return MARKDOWN
    if suffix != "txt" and _looks_like_markdown(head):
        return MARKDOWN
    return PLAIN


def _starts_as_html(text: str) -> bool:
    """An HTML start tag (or doctype) after only whitespace, comments and an XML declaration."""
    at = 0
    while True:
        space = _LEADING_SPACE.match(text, at)
        at = space.end() if space else at
        if text.startswith("<!--", at):
            end = text.find("-->", at + 4)
            if end < 0:
                return False
            at = end + 3
            continue
        declaration = _XML_DECLARATION.match(text, at)
        if declaration is None:
            return _HTML_OPENING.match(text, at) is not None
        at = declaration.end()


def _looks_like_markdown(text: str) -> bool:
    """ATX headings, a fenced block or an inline link are hard to write by accident."""
    return bool(
        _MD_HEADING.search(text) or len(_MD_FENCE.findall(text)) >= 2 or _MD_LINK.search(text)
    )
