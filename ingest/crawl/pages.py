"""What happens to a fetched page: follow its links, honour canonical, robots meta and
X-Robots-Tag, skip duplicates, remove pages that are gone, and hand the rest to ingestion."""

from __future__ import annotations

import hashlib
from typing import Protocol

from ingest.crawl.dedupe import FingerprintIndex, fingerprint
from ingest.crawl.directives import agent_token, header_directives
from ingest.crawl.fetcher import FetchedResponse
from ingest.crawl.frontier import Frontier
from ingest.crawl.links import PageLinks, extract_links
from ingest.crawl.site import SiteClient
from ingest.crawl.urls import last_segment
from ingest.parsers.sniff import HTML, sniff_media_type
from ingest.sources import RawSource
from kb.db.crawls import PageState
from kb.errors import KBError

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_UNLABELLED = frozenset({"", "application/octet-stream"})
_GONE = frozenset({404, 410})


class PageOwner(Protocol):
    """What a page handler needs from the crawl that owns it (``CrawlRunner``)."""

    frontier: Frontier
    site: SiteClient

    def state(self, url: str) -> PageState | None:
        """The stored state of ``url`` from earlier crawls, if any."""

    def ingest(self, raw: RawSource, state: PageState) -> None:
        """Hand a page to ingestion and count the outcome."""

    def remove_document(self, url: str) -> bool:
        """Remove the document stored for ``url``; whether there was one."""


class PageHandler:
    """Turns final responses into outcomes for one crawl."""

    def __init__(self, runner: PageOwner, prints: FingerprintIndex, skip_near: bool) -> None:
        self._runner = runner
        self._frontier = runner.frontier
        self._prints = prints
        self._skip_near = skip_near
        self._agent = agent_token(runner.site.robots.user_agent)

    def handle(self, response: FetchedResponse, depth: int) -> None:
        """Count, follow, skip, remove or ingest the page behind ``response``."""
        self._frontier.add(fetched=1)
        url, status = response.url, response.status
        if status == 304:
            self._unchanged(url, depth)
        elif status in _GONE:
            if self._runner.remove_document(url):
                self._frontier.add(removed=1)
            else:
                self._frontier.failed(f"http_{status}")
        elif status != 200:
            self._frontier.failed(f"http_{status}")
        elif response.body is None:
            self._frontier.skipped("unsupported_content_type")
        else:
            self._fetched(response, response.body, depth)

    def _unchanged(self, url: str, depth: int) -> None:
        # No body to read links from: the previous crawl's links keep discovery going.
        state = self._runner.state(url)
        for link in state.links if state else ():
            self._frontier.offer(link, depth + 1)
        self._frontier.add(unchanged=1)

    def _fetched(self, response: FetchedResponse, body: bytes, depth: int) -> None:
        url = response.url
        # X-Robots-Tag speaks for every response (a PDF too); meta robots only for HTML.
        robots = header_directives(response.headers.get_list("x-robots-tag"), self._agent)
        page = extract_links(body, url, self._agent) if _is_html(response, body) else None
        if page is not None and not (page.nofollow or robots.nofollow):
            for link in page.links:
                self._frontier.offer(link, depth + 1)
        source = self._source(url, page)
        if source is None:
            self._frontier.skipped("duplicate_canonical")
            return
        if robots.noindex or (page is not None and page.noindex):
            self._runner.remove_document(source)
            self._frontier.skipped("noindex")
            return
        print_ = fingerprint(page.text) if page else "x" + hashlib.sha256(body).hexdigest()[:31]
        if self._skip_near and self._prints.claim(source, print_) is not None:
            self._frontier.skipped("near_duplicate")  # exact copies included
            return
        state = PageState(
            url=url,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            fingerprint=print_,
            links=page.links if page else [],
        )
        raw = RawSource(
            data=body,
            source=source,
            filename=last_segment(url),
            declared_type=response.content_type or None,
        )
        self._runner.ingest(raw, state)

    def _source(self, url: str, page: PageLinks | None) -> str | None:
        """The URL the page is stored under: its canonical URL when that is ours to take."""
        canonical = page.canonical if page else None
        if not canonical or canonical == url:
            return url
        if self._frontier.why_not(canonical) or not self._runner.site.robots.allows(canonical):
            return url  # a canonical elsewhere is a hint we cannot follow
        if self._frontier.claim(canonical):
            return canonical
        # The canonical page is (or will be) fetched itself; this copy adds nothing.
        return None


def _is_html(response: FetchedResponse, body: bytes) -> bool:
    if response.content_type in _HTML_TYPES:
        return True
    if response.content_type not in _UNLABELLED:
        return False
    try:
        return sniff_media_type(body[:65536], last_segment(response.url)) == HTML
    except KBError:
        return False
