"""What a crawler needs from an HTML page besides its text: links, canonical URL, robots meta,
and the main text for duplicate detection. One fast pass with the stdlib tokenizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

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


class _Extractor(HTMLParser):
    def __init__(self, url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base = url
        self.page = PageLinks()
        self._seen: set[str] = set()
        self._hrefs: list[str] = []
        self._skip = 0
        self._main = 0
        self._all_text: list[str] = []
        self._main_text: list[str] = []
        self._has_base = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag in _SKIP_TEXT:
            self._skip += 1
        elif tag in _MAIN:
            self._main += 1
        if tag in {"a", "area"} and values.get("href"):
            self._hrefs.append(values["href"])
        elif tag == "base" and values.get("href") and not self._has_base:
            self._has_base = True
            self.base = normalize_url(values["href"], self.base) or self.base
        elif tag == "link" and "canonical" in values.get("rel", "").lower().split():
            self.page.canonical = self.page.canonical or values.get("href") or None
        elif tag == "meta" and values.get("name", "").lower() == "robots":
            directives = {d.strip() for d in values.get("content", "").lower().split(",")}
            self.page.noindex |= bool(directives & {"noindex", "none"})
            self.page.nofollow |= bool(directives & {"nofollow", "none"})

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TEXT and self._skip:
            self._skip -= 1
        elif tag in _MAIN and self._main:
            self._main -= 1

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self._all_text.append(data)
        if self._main:
            self._main_text.append(data)

    def finish(self) -> PageLinks:
        # Links resolve against <base href> wherever it appears in the page.
        for href in self._hrefs:
            url = normalize_url(href, self.base)
            if url and url not in self._seen and len(self._seen) < MAX_LINKS_PER_PAGE:
                self._seen.add(url)
                self.page.links.append(url)
        if self.page.canonical:
            self.page.canonical = normalize_url(self.page.canonical, self.base)
        text = self._main_text if any(t.strip() for t in self._main_text) else self._all_text
        self.page.text = " ".join(" ".join(text).split())
        return self.page


def extract_links(data: bytes, url: str) -> PageLinks:
    """Links, canonical, robots meta and main text of the HTML page ``data`` found at ``url``."""
    try:
        markup = decode_text(data)
    except KBError:
        markup = data.decode("utf-8", errors="replace")
    extractor = _Extractor(url)
    extractor.feed(markup)
    extractor.close()
    return extractor.finish()
