"""Fetching from a site as a polite, safe crawler: robots.txt obeyed, requests spaced, and every
redirect hop checked like a page of its own (address, scope, robots.txt, seen before)."""

from __future__ import annotations

from collections.abc import Callable

from ingest.crawl.fetcher import FetchedResponse, Fetcher, FetchError
from ingest.crawl.frontier import Frontier, HostGate
from ingest.crawl.robots import MAX_ROBOTS_BYTES, RobotsCache
from ingest.crawl.sitemaps import MAX_SITEMAP_BYTES
from ingest.crawl.urls import host_of, normalize_url
from kb.net.addresses import AddressPolicy, AddressRefused

REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Types the ingestion pipeline can parse. Unlabelled and octet-stream bodies are downloaded too:
# PDFs are often served that way, and the pipeline sniffs the bytes.
INGESTIBLE = frozenset(
    {
        "text/html",
        "application/xhtml+xml",
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "text/plain",
        "text/markdown",
        "text/x-markdown",
        "application/octet-stream",
        "",
    }
)
_SITEMAP_TYPES = (
    frozenset(
        {"application/xml", "text/xml", "application/gzip", "application/x-gzip", "text/plain"}
    )
    | INGESTIBLE
)
Conditional = Callable[[str], dict[str, str]]


class SiteClient:
    """Page, robots.txt and sitemap requests of one crawl."""

    def __init__(
        self,
        fetcher: Fetcher,
        policy: AddressPolicy,
        frontier: Frontier,
        gate: HostGate,
        user_agent: str,
        delay_s: float,
        max_redirects: int,
    ) -> None:
        self._fetcher = fetcher
        self._policy = policy
        self._frontier = frontier
        self._gate = gate
        self._delay_s = delay_s
        self._max_redirects = max_redirects
        self.robots = RobotsCache(self._fetch_robots, user_agent)

    def fetch_page(self, url: str, conditional: Conditional) -> FetchedResponse:
        """The final response for ``url`` after checked redirects; raises FetchError."""
        self._check_hop(url)
        chain = [url]
        current = url
        for _ in range(self._max_redirects + 1):
            delay = max(self._delay_s, self.robots.crawl_delay(current))
            if not self._gate.wait(host_of(current), delay):
                raise FetchError("cancelled", skipped=True)
            response = self._fetcher.get(
                current, headers=conditional(current), accept=INGESTIBLE.__contains__
            )
            target = self._redirect_target(response)
            if target is None:
                return response
            if target in chain:
                raise FetchError("redirect_loop", " -> ".join([*chain, target]))
            self._check_hop(target)
            if not self._frontier.claim(target):
                raise FetchError("redirect_to_seen_page", target, skipped=True)
            chain.append(target)
            current = target
        raise FetchError("too_many_redirects", " -> ".join(chain))

    def fetch_sitemap(self, url: str) -> bytes:
        """The body of a sitemap file; raises FetchError."""
        if not self.robots.allows(url):
            raise FetchError("robots_disallowed", url, skipped=True)
        response = self._follow(url, MAX_SITEMAP_BYTES, _SITEMAP_TYPES.__contains__, polite=True)
        if response.status != 200 or response.body is None:
            raise FetchError(f"http_{response.status}", url)
        return response.body

    def _check_hop(self, target: str) -> None:
        # The address first: a redirect to 169.254.169.254 is reported as what it is.
        try:
            self._policy.addresses(target)
        except AddressRefused as exc:
            raise FetchError("refused_address", exc.reason, skipped=True) from exc
        reason = self._frontier.why_not(target)
        if reason is not None:
            raise FetchError(reason, target, skipped=True)
        if not self.robots.allows(target):
            raise FetchError("robots_disallowed", target, skipped=True)

    def _redirect_target(self, response: FetchedResponse) -> str | None:
        location = response.headers.get("location")
        if response.status not in REDIRECTS or not location:
            return None
        target = normalize_url(location, response.url)
        if target is None:
            raise FetchError("redirect_not_http", location, skipped=True)
        return target

    def _follow(
        self, url: str, max_bytes: int, accept: Callable[[str], bool], polite: bool
    ) -> FetchedResponse:
        """GET with redirects (addresses checked per hop) for robots.txt and sitemaps.

        ``polite`` applies robots.txt's Crawl-delay, which robots.txt itself cannot wait for.
        """
        current = url
        for _ in range(self._max_redirects + 1):
            delay = self._delay_s
            if polite:
                delay = max(delay, self.robots.crawl_delay(current))
            if not self._gate.wait(host_of(current), delay):
                raise FetchError("cancelled", skipped=True)
            response = self._fetcher.get(current, accept=accept, max_bytes=max_bytes)
            target = self._redirect_target(response)
            if target is None:
                return response
            current = target
        raise FetchError("too_many_redirects", url)

    def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        try:
            response = self._follow(url, MAX_ROBOTS_BYTES * 2, lambda _type: True, polite=False)
        except FetchError:
            return 0, b""  # unreachable: RFC 9309 says assume everything is disallowed
        return response.status, response.body or b""
