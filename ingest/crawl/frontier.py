"""The crawl frontier (each URL once), its counts, and per-host politeness.

Every discovered URL ends in exactly one outcome (ingested, unchanged, removed, skipped or
failed, by reason), so ``discovered`` minus the outcomes is the work still queued.
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque

from ingest.crawl.urls import Scope
from kb.db.crawls import CrawlCounts


class Frontier:
    """URLs waiting to be fetched, URLs already claimed, and the crawl's counts (thread-safe)."""

    def __init__(self, scope: Scope, max_depth: int, max_pages: int, max_url_length: int) -> None:
        self._scope = scope
        self._max_depth = max_depth
        self._max_pages = max_pages
        self._max_url_length = max_url_length
        self._queue: deque[tuple[str, int]] = deque()
        self._seen: set[str] = set()
        self._dispatched = 0
        self._lock = threading.Lock()
        self.counts = CrawlCounts()

    def offer(self, url: str, depth: int, *, in_scope: bool = False) -> bool:
        """Queue a newly found URL unless seen, out of scope, too deep or too long.

        ``in_scope`` skips the scope check (start URLs define the scope themselves).
        """
        with self._lock:
            if url in self._seen:
                return False
            self._seen.add(url)
            self.counts.discovered += 1
            reason = None if in_scope else self._scope.why_not(url)
            if reason is None and len(url) > self._max_url_length:
                reason = "url_too_long"
            if reason is None and depth > self._max_depth:
                reason = "depth_limit"
            if reason is not None:
                _bump(self.counts.skipped, reason)
                return False
            self._queue.append((url, depth))
            return True

    def claim(self, url: str) -> bool:
        """Mark a URL reached another way (a redirect target, a canonical URL) as taken.

        False when it was already seen: some other page of this crawl stands for it.
        """
        with self._lock:
            if url in self._seen:
                return False
            self._seen.add(url)
            return True

    def next(self) -> tuple[str, int] | None:
        """The next URL to fetch (breadth first), or None when the queue or the page cap is out."""
        with self._lock:
            if not self._queue or self._dispatched >= self._max_pages:
                return None
            self._dispatched += 1
            return self._queue.popleft()

    def close(self) -> None:
        """Count what is left queued once the page cap stopped the crawl."""
        with self._lock:
            if self._queue and self._dispatched >= self._max_pages:
                _bump(self.counts.skipped, "page_limit", len(self._queue))
            self._queue.clear()

    def why_not(self, url: str) -> str | None:
        """Scope check for URLs reached by redirects and canonical links."""
        if len(url) > self._max_url_length:
            return "url_too_long"
        return self._scope.why_not(url)

    def skipped(self, reason: str) -> None:
        """Count a page skipped on purpose."""
        with self._lock:
            _bump(self.counts.skipped, reason)

    def failed(self, reason: str) -> None:
        """Count a page that could not be fetched or ingested."""
        with self._lock:
            _bump(self.counts.failed, reason)

    def add(self, **amounts: int) -> None:
        """Add to the plain counters (fetched=1, ingested=1, ...)."""
        with self._lock:
            for name, amount in amounts.items():
                setattr(self.counts, name, getattr(self.counts, name) + amount)

    def snapshot(self) -> CrawlCounts:
        """A copy of the counts."""
        with self._lock:
            return copy.deepcopy(self.counts)


def _bump(counter: dict[str, int], reason: str, amount: int = 1) -> None:
    counter[reason] = counter.get(reason, 0) + amount


class HostGate:
    """Spaces requests to each host by its delay (the crawl's, or robots.txt's if longer)."""

    def __init__(self, cancel: threading.Event) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._cancel = cancel

    def wait(self, host: str, delay: float) -> bool:
        """Block until a request to ``host`` may start; False if the crawl was cancelled.

        The next start is counted from the previous *actual* release, not from a slot booked in
        advance: a worker that is released late (the CPU busy embedding) must not let the ones
        queued behind it go out in a burst.
        """
        if delay <= 0:
            return not self._cancel.is_set()
        while True:
            with self._lock:
                now = time.monotonic()
                ready = self._last.get(host, now - delay) + delay
                if now >= ready:
                    self._last[host] = now
                    return not self._cancel.is_set()
            if self._cancel.wait(ready - now):
                return False
