"""Every parser on real files built by the real libraries, through the registry."""

from __future__ import annotations

import io
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import docx
import pytest
from bs4.element import Tag
from pypdf import PdfReader, PdfWriter

from ingest.parsers.base import ParseLimits
from ingest.parsers.docx import DocxParser
from ingest.parsers.pdf import PdfParser
from ingest.parsers.registry import PARSERS, SUPPORTED_MEDIA_TYPES, parse_bytes
from ingest.parsers.sniff import DOCX, HTML, MARKDOWN, PDF, PLAIN
from kb.errors import (
    CorruptDocument,
    EmptyDocument,
    KBError,
    NoExtractableText,
    UnprocessableDocument,
    UnsupportedMediaType,
)
from tests.conftest import run_python
from tests.support.pdf_factory import make_pdf

LIMITS = ParseLimits()


def assert_error(excinfo: pytest.ExceptionInfo[KBError], status: int, code: str) -> None:
    assert excinfo.value.status == status
    assert excinfo.value.code == code


def make_docx(title: str | None = None) -> bytes:
    document = docx.Document()
    if title is not None:
        document.core_properties.title = title
    document.add_heading("Quarterly Report", level=1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=2, cols=3)
    for row, values in zip(
        table.rows, [("Region", "Q1", "Q2"), ("North", "10", "12")], strict=True
    ):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_paragraph("Closing remarks.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def with_extra_member(docx_data: bytes, name: str, payload: bytes) -> bytes:
    """The same .docx package with one more (deflated) member."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(docx_data)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for member in source.infolist():
            target.writestr(member, source.read(member))
        target.writestr(name, payload)
    return buffer.getvalue()


def test_registry_covers_every_supported_type() -> None:
    assert set(SUPPORTED_MEDIA_TYPES) == {PDF, DOCX, HTML, MARKDOWN, PLAIN}
    assert set(PARSERS) == set(SUPPORTED_MEDIA_TYPES)


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_text_title_and_page_spans() -> None:
    data = make_pdf(["Alpha first page", "Bravo second page", "Charlie third page"], title="Atlas")
    parsed = parse_bytes(data, LIMITS, filename="atlas.pdf")
    assert parsed.media_type == PDF
    assert parsed.title == "Atlas"
    assert parsed.text == "Alpha first page\n\nBravo second page\n\nCharlie third page"
    assert [span.page for span in parsed.pages] == [1, 2, 3]
    assert parsed.page_at(parsed.text.index("Bravo")) == 2
    assert parsed.page_at(parsed.text.index("Charlie")) == 3
    for span in parsed.pages:
        assert parsed.text[span.start : span.end].endswith("page")


def test_pdf_blank_pages_get_no_span_but_keep_numbering() -> None:
    parsed = PdfParser().parse(make_pdf(["Intro", "", "Appendix"]), LIMITS)
    assert [span.page for span in parsed.pages] == [1, 3]
    assert parsed.page_at(parsed.text.index("Appendix")) == 3
    assert parsed.title is None


def test_pdf_factory_keeps_exact_words_per_page() -> None:
    data = make_pdf(["one (two) three\\four", "", "five\nsix café"])
    texts = [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    assert texts[0].split() == ["one", "(two)", "three\\four"]
    assert texts[1] == ""
    assert texts[2].split() == ["five", "six", "café"]


def test_pdf_named_txt_parses_as_pdf() -> None:
    parsed = parse_bytes(make_pdf(["Hidden pdf"]), LIMITS, filename="notes.txt")
    assert parsed.media_type == PDF
    assert parsed.text == "Hidden pdf"


def test_truncated_pdf_is_corrupt() -> None:
    data = make_pdf(["Some words on a page"])
    with pytest.raises(CorruptDocument) as excinfo:
        parse_bytes(data[: len(data) // 2], LIMITS, filename="broken.pdf")
    assert_error(excinfo, 422, "corrupt_document")


def test_pdf_without_text_needs_ocr() -> None:
    with pytest.raises(NoExtractableText) as excinfo:
        parse_bytes(make_pdf([""]), LIMITS, filename="scan.pdf")
    assert_error(excinfo, 422, "no_extractable_text")
    assert "OCR" in excinfo.value.detail


def test_pdf_over_page_cap_is_refused() -> None:
    with pytest.raises(UnprocessableDocument) as excinfo:
        parse_bytes(make_pdf(["one", "two"]), ParseLimits(max_pdf_pages=1))
    assert_error(excinfo, 422, "unprocessable_document")
    assert "cap of 1 pages" in excinfo.value.detail


def _encrypted_pdf(user_password: str) -> bytes:
    # RC4: pypdf's AES needs the optional 'cryptography' package.
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Secret words"]))))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_encrypted_with_empty_password_is_read() -> None:
    assert PdfParser().parse(_encrypted_pdf(""), LIMITS).text == "Secret words"


def test_pdf_needing_a_password_is_corrupt() -> None:
    with pytest.raises(CorruptDocument) as excinfo:
        PdfParser().parse(_encrypted_pdf("hunter2"), LIMITS)
    assert_error(excinfo, 422, "corrupt_document")
    assert "password" in excinfo.value.detail


# --- HTML --------------------------------------------------------------------------------------

PAGE = b"""<!DOCTYPE html>
<html><head><title>Garden  Guide</title><style>p { color: red }</style>
<script>trackEverything("secret-script-text")</script></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About us</a></nav>
<div id="cookie-banner">We use cookies <button>Accept</button></div>
<div class="consent-modal">Manage consent</div>
<main>
  <h1>Growing Tomatoes</h1>
  <p>Tomatoes need   sun
     and water.</p>
  <h2>Soil</h2>
  <ul><li>Loamy</li><li>Well drained</li></ul>
  <table><tr><th>Month</th><th>Task</th></tr><tr><td>May</td><td>Plant</td></tr></table>
</main>
<footer>Copyright 2024 Garden Corp</footer>
</body></html>"""


def test_html_keeps_content_and_drops_boilerplate() -> None:
    parsed = parse_bytes(PAGE, LIMITS, filename="guide.html")
    assert parsed.media_type == HTML
    assert parsed.title == "Garden Guide"
    assert parsed.text == (
        "# Growing Tomatoes\n\nTomatoes need sun and water.\n\n## Soil\n\nLoamy\nWell drained"
        "\n\nMonth | Task\nMay | Plant"
    )
    for boilerplate in ("secret-script-text", "About us", "cookies", "consent", "Copyright"):
        assert boilerplate not in parsed.text


def test_html_with_hostile_markup_is_read_without_the_stdlib_tokenizer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression (issue 19): html.parser, quadratic on "<!--" runs, was the HTML fallback."""
    monkeypatch.setattr(HTMLParser, "goahead", lambda *_: pytest.fail("html.parser was used"))
    assert parse_bytes(PAGE, LIMITS).text.startswith("# Growing Tomatoes")
    hostile = b"<html><body><main><p>Before.</p>" + b"<!--" * 100_000 + b"><p>After.</p></main>"
    assert parse_bytes(hostile, LIMITS, filename="x.html").text == "Before.\n\nAfter."


def test_html_nesting_does_not_search_every_subtree() -> None:
    """Regression (issue 19): Tag.decomposed searched each tag's subtree (quadratic nesting)."""
    # bs4 resolves `tag.decomposed` on a live tag by searching its subtree for a child tag
    # named "_decomposed"; a page of nested blocks paid that for every block.
    calls = 0
    real = Tag.find

    def counting(tag: Tag, *args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        return real(tag, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Tag, "find", counting)
        nested = b"<html><body>" + b"<div>" * 2000 + b"Deep text." + b"</div>" * 2000
        assert parse_bytes(nested, LIMITS, filename="x.html").text == "Deep text."
    assert calls < 20  # a handful of lookups (<title>, <main>...), not one per block


def test_html_keeps_content_that_merely_mentions_cookies() -> None:
    html = b'<html><body><div class="cookie-recipe"><p>Bake the cookies.</p></div></body></html>'
    assert parse_bytes(html, LIMITS).text == "Bake the cookies."


def test_html_title_falls_back_to_first_h1() -> None:
    html = b"<html><body><header>Site</header><article><h1>Only Heading</h1><p>Body</p></article>"
    parsed = parse_bytes(html, LIMITS)
    assert parsed.title == "Only Heading"
    assert parsed.text == "# Only Heading\n\nBody"


def test_html_without_text_is_refused() -> None:
    with pytest.raises(NoExtractableText) as excinfo:
        parse_bytes(b"<html><body><script>x()</script><nav>Menu</nav></body></html>", LIMITS)
    assert_error(excinfo, 422, "no_extractable_text")


# --- Text and Markdown ---------------------------------------------------------------------------


def test_markdown_front_matter_title_is_used_and_removed() -> None:
    data = b'---\ntitle: "Field Notes"\ntags: [a, b]\n---\n# Day One\n\nSaw a heron.\n'
    parsed = parse_bytes(data, LIMITS, filename="notes.md")
    assert parsed.media_type == MARKDOWN
    assert parsed.title == "Field Notes"
    assert parsed.text == "# Day One\n\nSaw a heron.\n"


def test_markdown_title_is_first_h1_outside_code() -> None:
    data = b"Intro line\n\n```bash\n# not a title\n```\n\n## Sub\n\n# Real Title\n"
    assert parse_bytes(data, LIMITS, filename="a.md").title == "Real Title"


@pytest.mark.parametrize(
    ("heading", "title"),
    [("# Title ##", "Title"), ("# C#", "C#"), ("#\tTabbed  #  ", "Tabbed"), ("# ###", "###")],
)
def test_markdown_h1_drops_a_closing_run_of_hashes_only(heading: str, title: str) -> None:
    assert parse_bytes(f"{heading}\n\nBody.".encode(), LIMITS, filename="a.md").title == title


@pytest.mark.parametrize(
    "upload",
    [
        "b'# Big' + b' ' * 1_000_000 + b'Title\\nBody.'",
        "b'---\\ntitle: Big' + b' ' * 1_000_000 + b'Title\\n---\\nBody.'",
    ],
    ids=["h1", "front matter"],
)
def test_markdown_titles_take_linear_time(upload: str) -> None:
    """Regression: a 1 MB Markdown title line of blanks took hours (a quadratic pattern), in
    the server process."""
    code = (
        "from ingest.parsers.base import ParseLimits\n"
        "from ingest.parsers.registry import parse_bytes\n"
        f"print(parse_bytes({upload}, ParseLimits(), 'big.md').title.split())"
    )
    assert run_python(code) == "['Big', 'Title']"


def test_plain_text_has_no_title_and_is_capped() -> None:
    parsed = parse_bytes(b"# Looks like a heading\nbody", ParseLimits(max_text_chars=10), "a.txt")
    assert parsed.media_type == PLAIN
    assert parsed.title is None
    assert parsed.text == "# Looks li"


def test_text_named_pdf_parses_as_text() -> None:
    parsed = parse_bytes(b"Actually plain text.", LIMITS, filename="report.pdf")
    assert (parsed.media_type, parsed.text) == (PLAIN, "Actually plain text.")


def test_cp1252_text_is_decoded() -> None:
    parsed = parse_bytes("Un café, s'il vous plaît.".encode("cp1252"), LIMITS, filename="a.txt")
    assert parsed.text == "Un café, s'il vous plaît."


@pytest.mark.parametrize("data", [b"", b" \n\t\n "])
def test_empty_upload_is_empty_document(data: bytes) -> None:
    with pytest.raises(EmptyDocument) as excinfo:
        parse_bytes(data, LIMITS, filename="empty.txt")
    assert_error(excinfo, 422, "empty_document")


def test_wrong_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedMediaType) as excinfo:
        parse_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01", LIMITS, "a.txt")
    assert_error(excinfo, 415, "unsupported_media_type")


# --- DOCX --------------------------------------------------------------------------------------


def test_docx_paragraphs_and_table_in_order() -> None:
    parsed = parse_bytes(make_docx(), LIMITS, filename="report.docx")
    assert parsed.media_type == DOCX
    assert parsed.title == "Quarterly Report"
    assert parsed.text == (
        "# Quarterly Report\n\nRevenue grew in every region.\n\n"
        "Region | Q1 | Q2\nNorth | 10 | 12\n\nClosing remarks."
    )
    assert parsed.pages == []


def test_docx_title_prefers_core_properties() -> None:
    assert parse_bytes(make_docx(title="Board Pack"), LIMITS).title == "Board Pack"


def test_docx_bomb_is_refused_by_ratio() -> None:
    bomb = with_extra_member(make_docx(), "word/media/filler.bin", b"\0" * (20 * 1024 * 1024))
    with pytest.raises(UnprocessableDocument) as excinfo:
        parse_bytes(bomb, LIMITS, filename="bomb.docx")
    assert_error(excinfo, 422, "unprocessable_document")
    assert "decompression bomb" in excinfo.value.detail


def test_docx_over_unzipped_cap_is_refused() -> None:
    data = make_docx()
    with pytest.raises(UnprocessableDocument) as excinfo:
        DocxParser().parse(data, ParseLimits(max_unzipped_bytes=1000))
    assert_error(excinfo, 422, "unprocessable_document")
    assert "decompression bomb" in excinfo.value.detail


def test_damaged_docx_is_corrupt() -> None:
    data = make_docx()
    with pytest.raises(CorruptDocument) as excinfo:
        parse_bytes(data[: len(data) // 2], LIMITS, filename="broken.docx")
    assert_error(excinfo, 422, "corrupt_document")


def test_docx_without_text_is_refused() -> None:
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    with pytest.raises(NoExtractableText) as excinfo:
        parse_bytes(buffer.getvalue(), LIMITS)
    assert_error(excinfo, 422, "no_extractable_text")


def test_every_parser_spec_is_registered_and_reads_its_suffixes(tmp_path: Path) -> None:
    """A parser module's spec that the registry does not list would be silently unused."""
    import importlib
    import pkgutil

    import ingest.parsers
    from ingest.parsers.base import ParserSpec
    from ingest.parsers.registry import SPECS, SUPPORTED_SUFFIXES
    from ingest.sources import iter_files

    declared = set()
    for info in pkgutil.iter_modules(ingest.parsers.__path__):
        module = importlib.import_module(f"ingest.parsers.{info.name}")
        declared |= {v for v in vars(module).values() if isinstance(v, ParserSpec)}
    assert declared == set(SPECS)
    for suffix in SUPPORTED_SUFFIXES:
        (tmp_path / f"doc{suffix}").write_bytes(b"x")
    (tmp_path / "ignored.exe").write_bytes(b"x")
    assert sorted(p.suffix for p in iter_files([tmp_path])) == sorted(SUPPORTED_SUFFIXES)
