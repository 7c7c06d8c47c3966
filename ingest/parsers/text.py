"""Plain text and Markdown parsers."""

from __future__ import annotations

import re

from ingest.parsers.base import ParsedDocument, ParseLimits, ParserSpec
from ingest.parsers.sniff import MARKDOWN, PLAIN, decode_text
from kb.errors import EmptyDocument, NoExtractableText

# These run on untrusted text in the server process (ingest.parsers.isolation), so each is
# linear: a lazy group before optional trailing blanks ("(.+?)[ \t]*$") is quadratic in a run
# of blanks, so the blanks and a heading's closing "#"s are stripped in code instead.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title[ \t]*:(.*)$", re.M)
_H1 = re.compile(r"^#[ \t]+(.*)$")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


def _decode_nonempty(data: bytes) -> str:
    text = decode_text(data)
    if not text.strip():
        raise EmptyDocument("the document is empty or holds only whitespace")
    return text


class PlainTextParser:
    """Parses text/plain: decoded as-is, no title."""

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Decode the text and cap its length."""
        text = _decode_nonempty(data)
        return ParsedDocument(text=text[: limits.max_text_chars], title=None, media_type=PLAIN)


class MarkdownParser:
    """Parses text/markdown: keeps the markup, takes the title from front matter or the first H1."""

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Decode, strip YAML front matter, and find the title."""
        text = _decode_nonempty(data)
        title, text = split_front_matter(text)
        if not text.strip():
            raise NoExtractableText("the Markdown document holds only front matter")
        text = text[: limits.max_text_chars]
        return ParsedDocument(text=text, title=title or first_h1(text), media_type=MARKDOWN)


def split_front_matter(text: str) -> tuple[str | None, str]:
    """The front-matter ``title:`` (or None) and the text without its front matter."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, text
    title_match = _FRONT_TITLE.search(match.group(1))
    title = _unquote(title_match.group(1).strip(" \t")) if title_match else None
    return title or None, text[match.end() :].lstrip("\n")


def _unquote(value: str) -> str:
    # Only the scalar forms people write by hand; full YAML is not worth a dependency here.
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1].strip()
    return value.split(" #", 1)[0].strip()


def first_h1(text: str) -> str | None:
    """The first level-one ATX heading outside fenced code, or None."""
    fence: str | None = None
    for line in text.split("\n"):
        fence_match = _FENCE.match(line)
        if fence_match:
            marker = fence_match.group(1)
            fence = None if fence == marker else fence or marker
            continue
        if fence is None:
            heading = _H1.match(line)
            if heading and heading.group(1).strip():
                return _without_closing_hashes(heading.group(1).strip())
    return None


def _without_closing_hashes(heading: str) -> str:
    """``Title`` of ``Title ##``: a closing run of "#" counts after a blank only (``C#``)."""
    bare = heading.rstrip("#")
    if bare != heading and bare[-1:] in (" ", "\t"):
        return bare.rstrip(" \t")
    return heading


# A decode and a few line scans: linear in the size, so parsed in the caller.
PLAIN_SPEC = ParserSpec(PLAIN, (".txt", ".text", ".rst"), PlainTextParser, linear_time=True)
MARKDOWN_SPEC = ParserSpec(MARKDOWN, (".md", ".markdown"), MarkdownParser, linear_time=True)
