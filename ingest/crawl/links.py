"""What a crawler needs from an HTML page besides its text: links, canonical URL, robots meta,
and the main text for duplicate detection. One streaming pass with libxml2's HTML tokenizer.

Not the stdlib ``html.parser``: on hostile markup (unterminated ``<!--``, ``</a`` repeated) it
takes quadratic time (CVE-2025-6069), ~17 s of CPU for 200 KB of ``<!--`` on Python 3.11.7,
hours for a 10 MB page; lxml reads the same page in milliseconds (bench/hostile_html.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from ingest.crawl.directives import Directives, meta_directives
from ingest.crawl.urls import normalize_url
from ingest.parsers.sniff import decode_text
from kb.errors import KBError

MAX_LINKS_PER_PAGE = 5000
# Boilerplate that repeats on every page and would make all pages look alike.
_SKIP_TEXT = frozenset(
    {"script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form"}
)
_MAIN = frozenset({"main", "article"})


@dataclass
class PageLinks:
    """Outlinks (normalised, in page order), the canonical URL and robots directives."""

    links: list[str] = field(default_factory=list)
    canonical: str | None = None
    noindex: bool = False
    nofollow: bool = False
    text: str = ""


class _Extractor:
    """An lxml parser target: sees tags and text as they are tokenized, builds no tree."""

    def __init__(self, url: str, agent: str) -> None:
        self.base = url
        self.page = PageLinks()
        self._agent = agent
        self._robots = Directives()
        self._hrefs: list[str] = []
        self._skip = 0
        self._main = 0
        self._pending: list[str] = []
        self._all_text: list[str] = []
        self._main_text: list[str] = []
        self._has_base = False

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._flush()
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag in _SKIP_TEXT:
            self._skip += 1
        elif tag in _MAIN:
            self._main += 1
        href = attrib.get("href") or ""
        if tag in {"a", "area"} and href:
            self._hrefs.append(href)
        elif tag == "base" and href and not self._has_base:
            self._has_base = True
            self.base = normalize_url(href, self.base) or self.base
        elif tag == "link" and "canonical" in (attrib.get("rel") or "").lower().split():
            self.page.canonical = self.page.canonical or href or None
        elif tag == "meta":
            name, content = attrib.get("name") or "", attrib.get("content") or ""
            self._robots |= meta_directives(name, content, self._agent)

    def end(self, tag: str) -> None:
        self._flush()
        tag = tag.lower() if isinstance(tag, str) else ""
        if tag in _SKIP_TEXT and self._skip:
            self._skip -= 1
        elif tag in _MAIN and self._main:
            self._main -= 1

    def data(self, data: str) -> None:
        # libxml2 hands text over in pieces (around each character reference): one text run
        # between two tags is joined back before it is stored.
        self._pending.append(data)

    def close(self) -> PageLinks:
        self._flush()
        return self.page

    def _flush(self) -> None:
        if not self._pending:
            return
        data, self._pending = "".join(self._pending), []
        if self._skip:
            return
        self._all_text.append(data)
        if self._main:
            self._main_text.append(data)

    def finish(self) -> PageLinks:
        """The page, once the whole markup has been read."""
        self._flush()
        # Links resolve against <base href> wherever it appears in the page.
        seen: set[str] = set()
        for href in self._hrefs:
            url = normalize_url(href, self.base)
            if url and url not in seen and len(seen) < MAX_LINKS_PER_PAGE:
                seen.add(url)
                self.page.links.append(url)
        if self.page.canonical:
            self.page.canonical = normalize_url(self.page.canonical, self.base)
        self.page.noindex, self.page.nofollow = self._robots.noindex, self._robots.nofollow
        text = self._main_text if any(t.strip() for t in self._main_text) else self._all_text
        self.page.text = " ".join(" ".join(text).split())
        return self.page


def extract_links(data: bytes, url: str, agent: str = "") -> PageLinks:
    """Links, canonical, robots meta (``robots``, or our crawler's ``agent`` token) and main
    text of the HTML page ``data`` found at ``url``."""
    try:
        markup = decode_text(data)
    except KBError:
        markup = data.decode("utf-8", errors="replace")
    extractor = _Extractor(url, agent)
    # huge_tree: a text run over libxml2's 10 MB default must not end the page early.
    parser = etree.HTMLParser(
        target=extractor, recover=True, no_network=True, huge_tree=True, remove_comments=True
    )
    try:
        parser.feed(markup)
        parser.close()
    except etree.LxmlError:
        pass  # recover=True reads on through broken markup; keep what was read if it gives up
    return extractor.finish()
