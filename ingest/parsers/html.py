"""HTML parser: the readable text of a page, without scripts, navigation and cookie banners."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from ingest.parsers.base import ParsedDocument, ParseLimits, ParserSpec
from ingest.parsers.sniff import HTML
from kb.errors import NoExtractableText

# lxml, never the stdlib html.parser: that one takes quadratic time on hostile markup
# (CVE-2025-6069: unterminated "<!--", "</a" repeated), lxml is linear and closer to browsers
# on broken markup (bench/hostile_html.py).
_FEATURES = "lxml"

_DROP_TAGS = (
    "script", "style", "noscript", "template", "svg", "iframe", "nav", "header", "footer",
    "aside", "form", "button", "object", "embed", "canvas",
)  # fmt: skip
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo"})
# "consent" alone is specific enough; bare "cookie" is not (recipe sites), so it needs a banner
# word after it.
_BANNER_MARK = re.compile(
    r"consent|gdpr|cookiebot|cookie[\W_]*(?:banner|notice|bar|law|policy|popup|modal|dialog"
    r"|message|warning|info|alert|overlay|box|wall|settings|preferences)",
    re.I,
)
# Without <main>/<article> the page's chrome is plain divs; these id/class words mark it
# (measured on real mdBook and rustdoc pages stripped of landmarks: see bench/extractor_bench.py).
_CHROME_WORDS = frozenset(
    {"sidebar", "menu", "menubar", "navbar", "nav", "navigation", "toc", "breadcrumb",
     "breadcrumbs", "search", "searchbar", "topbar", "masthead", "pagination", "skip"}
)  # fmt: skip
_TOKEN_SPLIT = re.compile(r"[-_\s]+")
# Containers that may carry a cookie-ish class for styling but hold the page itself.
_NEVER_BANNER = frozenset({"html", "body", "main", "article"})
_PARAGRAPH_TAGS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table", "ul", "ol", "dl",
    "section", "article", "main", "figure",
)  # fmt: skip
_LINE_TAGS = (
    "div", "li", "tr", "dt", "dd", "caption", "figcaption", "address", "details", "summary",
    "hr", "br",
)  # fmt: skip
_VOID_TAGS = frozenset({"br", "hr"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_CELL_TAGS = ("td", "th")
# Layout markers. Text strings have their tabs collapsed before joining, so a tab can only be a
# cell break; the paragraph marker is a private-use character, which str.split() leaves alone.
_CELL_BREAK = "\t"
_PARAGRAPH_BREAK = "\ue000"
_WHITESPACE = re.compile(r"\s+")
_INLINE_WHITESPACE = re.compile(r"[^\S\n]+")
_LINE_RUNS = re.compile(r"\n+")
_PARAGRAPH_RUNS = re.compile(r"\s*\ue000[\s\ue000]*")


class _Break(NavigableString):
    """Layout whitespace inserted around block elements (kept verbatim when joining)."""


class HtmlParser:
    """Parses text/html with BeautifulSoup into readable, block-separated text."""

    def parse(self, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Drop boilerplate, prefer <main>/<article>, and lay out block elements as lines."""
        # Bytes, not decoded text: BeautifulSoup honours <meta charset> before guessing.
        soup = BeautifulSoup(data, _FEATURES)
        _drop_boilerplate(soup)
        title = _title(soup)
        for tag in soup.find_all(("head", "title")):
            tag.decompose()
        text = _readable_text(_content_root(soup))
        if not text:
            raise NoExtractableText("the HTML page holds no readable text")
        return ParsedDocument(text=text[: limits.max_text_chars], title=title, media_type=HTML)


def _decomposed(tag: Tag) -> bool:
    """Whether ``tag`` went with an ancestor that was decomposed.

    Not ``Tag.decomposed``: on a live tag bs4 4.15 looks ``_decomposed`` up as a child tag name,
    a search of the whole subtree, which made nested pages quadratic (10,000 nested <div>, 50 KB:
    35.9 s, 4.1 s without it; bench/hostile_html.py). ``decompose()`` sets the flag in the
    instance dict."""
    return bool(tag.__dict__.get("_decomposed", False))


def _drop_boilerplate(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(True):
        if _decomposed(tag):
            continue
        if tag.name == "header" and tag.find_parent(["article", "main"]):
            # An article's own <header> holds its headline, not site chrome.
            continue
        role = str(tag.get("role") or "").lower()
        if tag.name in _DROP_TAGS or role in _DROP_ROLES or _is_banner(tag):
            tag.decompose()


def _drop_chrome(root: Tag) -> None:
    """Without landmarks, drop blocks whose id or class names them as site chrome."""
    for tag in root.find_all(True):
        if _decomposed(tag) or tag.name in _NEVER_BANNER:
            continue
        marks = [str(tag.get("id") or ""), *tag.get_attribute_list("class")]
        words = {w for mark in marks if mark for w in _TOKEN_SPLIT.split(mark.lower())}
        if words & _CHROME_WORDS:
            tag.decompose()


def _is_banner(tag: Tag) -> bool:
    if tag.name in _NEVER_BANNER:
        return False
    marks = [str(tag.get("id") or ""), *tag.get_attribute_list("class")]
    return any(_BANNER_MARK.search(mark) for mark in marks if mark)


def _title(soup: BeautifulSoup) -> str | None:
    for candidate in (soup.find("title"), soup.find("h1")):
        if candidate is not None:
            text = " ".join(candidate.get_text(" ").split())
            if text:
                return text
    return None


def _content_root(soup: BeautifulSoup) -> Tag:
    main = soup.find("main")
    if isinstance(main, Tag):
        return main
    articles = [a for a in soup.find_all("article") if not a.find_parent("article")]
    if len(articles) == 1:
        return articles[0]
    if articles:
        # Several top-level articles (a blog index): keep them all and nothing around them.
        holder = soup.new_tag("div")
        for article in articles:
            holder.append(article.extract())
        return holder
    body = soup.find("body")
    root = body if isinstance(body, Tag) else soup
    _drop_chrome(root)
    return root


def _readable_text(root: Tag) -> str:
    _mark_layout(root)
    preformatted = {id(s) for pre in root.find_all("pre") for s in pre.find_all(string=True)}
    parts: list[str] = []
    for node in root.descendants:
        if isinstance(node, _Break):
            parts.append(str(node))
        elif isinstance(node, NavigableString) and not isinstance(node, PreformattedString):
            collapse = _INLINE_WHITESPACE if id(node) in preformatted else _WHITESPACE
            parts.append(collapse.sub(" ", str(node)))
    lines = []
    for line in "".join(parts).split("\n"):
        cells = (" ".join(cell.split()) for cell in line.split(_CELL_BREAK))
        lines.append(" | ".join(cell for cell in cells if cell))
    # Adjacent line breaks never stack; any paragraph break in a run makes it one blank line.
    text = _LINE_RUNS.sub("\n", "\n".join(lines))
    return _PARAGRAPH_RUNS.sub("\n\n", text).strip()


def _mark_layout(root: Tag) -> None:
    """Insert line and paragraph breaks around blocks, and cell breaks after table cells."""
    for tag in root.find_all((*_PARAGRAPH_TAGS, *_LINE_TAGS, *_CELL_TAGS)):
        if tag.name in _CELL_TAGS:
            tag.append(_Break(_CELL_BREAK))
            continue
        gap = _PARAGRAPH_BREAK if tag.name in _PARAGRAPH_TAGS else "\n"
        tag.insert_before(_Break(gap))
        if tag.name in _HEADINGS:
            # Headings become Markdown ("## Refunds") so chunking can cut at sections.
            tag.insert(0, _Break("#" * int(tag.name[1]) + " "))
        if tag.name not in _VOID_TAGS:
            tag.append(_Break(gap))


SPEC = ParserSpec(HTML, (".html", ".htm"), HtmlParser)
