"""Media type sniffing and text decoding decide from content, not from names."""

from __future__ import annotations

import codecs
import io
import os
import struct
import zipfile
import zlib

import docx
import pytest

from ingest.parsers.sniff import DOCX, HTML, MARKDOWN, PDF, PLAIN, decode_text, sniff_media_type
from kb.errors import EmptyDocument, KBError, UnsupportedMediaType
from tests.conftest import run_python
from tests.support.pdf_factory import make_pdf


def png_bytes() -> bytes:
    """A valid 1x1 grey PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x80"))
        + chunk(b"IEND", b"")
    )


def docx_bytes() -> bytes:
    document = docx.Document()
    document.add_paragraph("Hello from Word")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a document")
    return buffer.getvalue()


def assert_error(excinfo: pytest.ExceptionInfo[KBError], status: int, code: str) -> None:
    assert excinfo.value.status == status
    assert excinfo.value.code == code


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (make_pdf(["Some words"]), "report.pdf", PDF),
        (make_pdf(["Some words"]), "notes.txt", PDF),
        (b"Just words in a file.\n", "report.pdf", PLAIN),
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", None, HTML),
        (b"  <!-- generated -->\n<html lang='en'><p>Hi</p></html>", "page.txt", HTML),
        (b"<p>A fragment</p>", "fragment.html", HTML),
        (b"<p>A fragment</p>", None, PLAIN),
        (b"# Heading\n\nSome text.\n", None, MARKDOWN),
        (b"See [the docs](https://example.com/docs) for more.\n", "notes", MARKDOWN),
        (b"# Heading\n\nSome text.\n", "notes.txt", PLAIN),
        (b"plain words only\n", "readme.md", MARKDOWN),
        (b"plain words only\n", None, PLAIN),
        (b"BMW makes cars; MZ made motorbikes.\n", None, PLAIN),
    ],
)
def test_sniff_decides_from_content(data: bytes, filename: str | None, expected: str) -> None:
    assert sniff_media_type(data, filename=filename) == expected


def test_sniff_recognises_docx_regardless_of_name() -> None:
    assert sniff_media_type(docx_bytes(), filename="letter.txt") == DOCX


def test_declared_type_breaks_text_ties_only() -> None:
    assert sniff_media_type(b"plain words\n", declared="text/markdown; charset=utf-8") == MARKDOWN
    assert sniff_media_type(b"plain words\n", declared="application/pdf") == PLAIN


@pytest.mark.parametrize("data", [b"", b"  \n\t \r\n", "\ufeff  \n".encode("utf-16")])
def test_empty_or_whitespace_is_empty_document(data: bytes) -> None:
    with pytest.raises(EmptyDocument) as excinfo:
        sniff_media_type(data, filename="empty.txt")
    assert_error(excinfo, 422, "empty_document")


def test_png_named_txt_is_refused_naming_its_type() -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        sniff_media_type(png_bytes(), filename="notes.txt", declared="text/plain")
    assert_error(excinfo, 415, "unsupported_media_type")
    assert "image/png" in excinfo.value.detail


def test_plain_zip_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        sniff_media_type(plain_zip(), filename="archive.docx")
    assert_error(excinfo, 415, "unsupported_media_type")
    assert "zip archive" in excinfo.value.detail


def test_random_binary_is_refused() -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        sniff_media_type(os.urandom(4096), filename="data.txt")
    assert_error(excinfo, 415, "unsupported_media_type")


def test_rtf_is_refused_although_it_is_text() -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        sniff_media_type(rb"{\rtf1\ansi Hello}", filename="letter.txt")
    assert "application/rtf" in excinfo.value.detail


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("café\n".encode(), "café\n"),
        ("café".encode("utf-8-sig"), "café"),
        ("café".encode("utf-16"), "café"),
        (codecs.BOM_UTF16_BE + "café".encode("utf-16-be"), "café"),
        ("café".encode("utf-32"), "café"),
        ("plain café text".encode("utf-16-le"), "plain café text"),
        ("café".encode("cp1252"), "café"),
        ("Grüße aus München – „schön“".encode("cp1252"), "Grüße aus München – „schön“"),
        ("Привет, как дела? Это тест.".encode("cp1251"), "Привет, как дела? Это тест."),
        (b"one\r\ntwo\rthree\n", "one\ntwo\nthree\n"),
    ],
)
def test_decode_text_handles_common_encodings(data: bytes, expected: str) -> None:
    assert decode_text(data) == expected


def test_cp1252_text_sniffs_as_text() -> None:
    assert sniff_media_type("Le café est très bon.".encode("cp1252"), filename="a.txt") == PLAIN


@pytest.mark.parametrize(
    "data", [b"text\x00with a NUL", b"\x01\x02\x03\x04 mostly control \x05\x06\x07\x08"]
)
def test_decode_text_refuses_binary(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        decode_text(data)
    assert_error(excinfo, 415, "unsupported_media_type")


def test_mojibake_text_is_still_text() -> None:
    """Regression: real web text with C1 mojibake ("itâ\x80\x99s") was refused as binary."""
    text = "So letâ\x80\x99s take a brief look at Vibram: itâ\x80\x99s â\x80\x98Vee-bramâ\x80\x99."
    data = text.encode()
    assert sniff_media_type(data) == "text/plain"
    assert "Vibram" in decode_text(data)


QUOTING_A_HEADER = b"# Formats\n\nA PDF begins with a header such as %PDF-1.7 on its first line.\n"


@pytest.mark.parametrize(
    ("data", "filename", "declared", "expected"),
    [
        (QUOTING_A_HEADER, "formats.md", None, MARKDOWN),
        (QUOTING_A_HEADER, None, None, MARKDOWN),
        (b"%PDF-1.7 is the version most writers emit.\n", None, "text/markdown", MARKDOWN),
        (b"%PDF-1.7 is the version most writers emit.\n", "versions.txt", None, PLAIN),
        (b'{"magic": "%PDF-1.7"}\n', "magic.json", "application/json", PLAIN),
        (b"PK\x03\x04 opens each entry of a zip archive, then a version.\n", "z.txt", None, PLAIN),
    ],
)
def test_text_quoting_a_signature_stays_text(
    data: bytes, filename: str | None, declared: str | None, expected: str
) -> None:
    """Regression: any text with "%PDF-" in its first 1 KB was refused as a corrupt PDF."""
    assert sniff_media_type(data, filename=filename, declared=declared) == expected


@pytest.mark.parametrize(
    "junk", [b"\r\n", codecs.BOM_UTF8, b"\x1b%-12345X@PJL ENTER LANGUAGE=PDF\r\n"]
)
def test_a_pdf_after_a_little_junk_is_still_a_pdf(junk: bytes) -> None:
    assert sniff_media_type(junk + make_pdf(["Some words"]), filename="scan.txt") == PDF


def test_markup_declared_as_plain_text_stays_plain_text() -> None:
    page = b"<!DOCTYPE html><html><body><p>Hi</p></body></html>"
    assert sniff_media_type(page, filename="page.txt", declared="text/plain") == PLAIN
    assert sniff_media_type(page, filename="page.txt") == HTML  # a name only suggests


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        # A run of comments before no start tag: the one-pattern check backtracked 2^40 ways.
        ("sniff_media_type(b'<!--a-->' * 40 + b'x')", PLAIN),
        # Every "[" rescanned the rest of its line looking for "](".
        ("_looks_like_markdown('[' * 1_000_000)", False),
    ],
)
def test_sniffing_takes_linear_time(call: str, expected: object) -> None:
    """Regression: sniffing patterns backtracked exponentially or quadratically on short
    uploads, in the server process (holding the GIL)."""
    code = f"from ingest.parsers.sniff import _looks_like_markdown, sniff_media_type\nprint({call})"
    assert run_python(code) == str(expected)
