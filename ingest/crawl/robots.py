"""robots.txt per origin, read with protego (RFC 9309 with the common extensions)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from protego import Protego

from ingest.crawl.urls import origin_of

# RFC 9309: crawlers must read at least 500 KiB; more is not needed and bounds memory.
MAX_ROBOTS_BYTES = 512 * 1024
# (status, body) of GET <origin>/robots.txt, redirects followed; status 0 when unreachable.
RobotsFetch = Callable[[str], tuple[int, bytes]]


@dataclass(frozen=True)
class RobotsRules:
    """The rules of one origin for our user agent."""

    parser: Protego | None
    disallow_all: bool = False

    def allows(self, url: str, user_agent: str) -> bool:
        """Whether ``url`` may be fetched."""
        if self.disallow_all:
            return False
        return self.parser is None or bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float:
        """The Crawl-delay for our user agent in seconds (0 when none)."""
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay else 0.0

    def sitemaps(self) -> list[str]:
        """Sitemap URLs the file lists."""
        return list(self.parser.sitemaps) if self.parser is not None else []


def rules_from_response(status: int, body: bytes) -> RobotsRules:
    """RFC 9309 section 2.3.1: 2xx is parsed, 4xx means no rules, anything else disallows all."""
    if 200 <= status < 300:
        text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        return RobotsRules(Protego.parse(text))
    if 400 <= status < 500:
        return RobotsRules(None)
    # 5xx or unreachable: the site may be overloaded, so crawling it is not safe either.
    return RobotsRules(None, disallow_all=True)


class RobotsCache:
    """Fetches each origin's robots.txt once per crawl and answers for our user agent."""

    def __init__(self, fetch: RobotsFetch, user_agent: str) -> None:
        self._fetch = fetch
        self.user_agent = user_agent
        self._rules: dict[str, RobotsRules] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def rules(self, url: str) -> RobotsRules:
        """The rules of the origin ``url`` belongs to (fetched on first use)."""
        origin = origin_of(url)
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            if origin not in self._rules:
                status, body = self._fetch(f"{origin}/robots.txt")
                self._rules[origin] = rules_from_response(status, body)
            return self._rules[origin]

    def allows(self, url: str) -> bool:
        """Whether our user agent may fetch ``url``."""
        return self.rules(url).allows(url, self.user_agent)

    def crawl_delay(self, url: str) -> float:
        """Crawl-delay of the origin of ``url`` for our user agent."""
        return self.rules(url).crawl_delay(self.user_agent)
