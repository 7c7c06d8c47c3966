"""One crawl from start to end: seeds and sitemaps, parallel fetches, and a single ingestion
thread that embeds pages in shared batches while the fetchers go on."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from ingest.crawl.dedupe import FingerprintIndex
from ingest.crawl.fetcher import Fetcher, FetchError, FetchLimits
from ingest.crawl.frontier import Frontier, HostGate
from ingest.crawl.options import CrawlOptions
from ingest.crawl.pages import PageHandler
from ingest.crawl.site import SiteClient
from ingest.crawl.sitemaps import parse_sitemap
from ingest.crawl.urls import host_of, normalize_url, origin_of
from ingest.pipeline.batching import STORE_NOW, Marker
from ingest.pipeline.service import IngestionService, IngestResult
from ingest.sources import RawSource
from kb.db.crawls import CrawlCounts, CrawlRepository, PageState
from kb.db.registry import Registry
from kb.errors import KBError
from kb.net.addresses import AddressPolicy
from kb.runtime.events import EventBus
from kb.settings import CrawlSettings

log = logging.getLogger(__name__)
MAX_SITEMAP_FILES = 100
_PROGRESS_EVERY_S = 0.5
_SAVE_EVERY = 200
# Pages that trickle in (a slow or polite site) are stored and counted once none has come for
# _IDLE_S, and none waits much longer than _STORE_WITHIN_S for that, instead of waiting for a
# full embedding batch (256 chunks, ~85 pages) or the end of the crawl. While pages come faster
# than they are embedded, the queue is never empty and batches stay full.
_IDLE_S = 0.25
_STORE_WITHIN_S = 1.0


@dataclass(frozen=True)
class CrawlDeps:
    """The services a crawl writes through."""

    ingestion: IngestionService
    registry: Registry
    pages: CrawlRepository
    settings: CrawlSettings
    max_bytes: int
    events: EventBus | None = None  # told when a crawl ends


class CrawlRunner:
    """Runs one crawl in the calling thread; ``cancel`` stops it between pages."""

    def __init__(
        self,
        kb_id: str,
        options: CrawlOptions,
        deps: CrawlDeps,
        cancel: threading.Event,
        on_progress: Callable[[CrawlCounts], None] = lambda _counts: None,
    ) -> None:
        settings = deps.settings
        self._kb_id = kb_id
        self._options = options
        self._deps = deps
        self._cancel = cancel
        self._on_progress = on_progress
        self.frontier = Frontier(
            options.scope(), options.max_depth, options.max_pages, settings.max_url_length
        )
        self._policy = AddressPolicy(settings.allowed_hosts)
        limits = FetchLimits(
            settings.connect_timeout_s,
            settings.read_timeout_s,
            settings.page_timeout_s,
            min(settings.max_page_bytes, deps.max_bytes),
        )
        self._fetcher = Fetcher(
            self._policy, settings.user_agent, limits, options.concurrency, settings.ca_file
        )
        self.site = SiteClient(
            self._fetcher,
            self._policy,
            self.frontier,
            HostGate(cancel),
            settings.user_agent,
            options.delay_s,
            settings.max_redirects,
        )
        self._states = deps.pages.page_states(kb_id)
        self._prints = FingerprintIndex()
        for state in self._states.values():
            if state.fingerprint:
                self._prints.add(state.url, state.fingerprint)
        self._handler = PageHandler(self, self._prints, options.skip_near_duplicates)
        # Bounded: when embedding falls behind, fetchers wait instead of piling up bodies.
        self._to_ingest: queue.Queue[RawSource | None] = queue.Queue(maxsize=64)
        self._pending: dict[str, PageState] = {}
        self._to_save: list[PageState] = []
        self._pending_lock = threading.Lock()
        self._ingest_error: BaseException | None = None
        self._last_progress = 0.0

    @property
    def kb_id(self) -> str:
        """The knowledge base being filled."""
        return self._kb_id

    @property
    def deps(self) -> CrawlDeps:
        """The services this crawl writes through."""
        return self._deps

    def state(self, url: str) -> PageState | None:
        """What the previous crawl stored for ``url``."""
        return self._states.get(url)

    def run(self) -> CrawlCounts:
        """Crawl until the frontier is empty, the page cap is hit or the crawl is cancelled."""
        ingester = threading.Thread(target=self._ingest_loop, name="crawl-ingest", daemon=True)
        ingester.start()
        try:
            for url in self._options.start_urls:
                self.frontier.offer(url, 0, in_scope=True)
            if self._options.use_sitemaps:
                self._seed_from_sitemaps()
            self._fetch_all()
            self.frontier.close()
        finally:
            self._to_ingest.put(None)
            ingester.join()
            self._fetcher.close()
        self._on_progress(self.frontier.snapshot())
        if self._ingest_error is not None:
            raise self._ingest_error
        return self.frontier.snapshot()

    def _fetch_all(self) -> None:
        with ThreadPoolExecutor(self._options.concurrency, "crawl-fetch") as pool:
            running: set[Future[None]] = set()
            while not self._stopped():
                while len(running) < self._options.concurrency:
                    job = self.frontier.next()
                    if job is None:
                        break
                    running.add(pool.submit(self._visit, *job))
                if not running:
                    break
                done, running = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    future.result()  # _visit reports its own errors; anything else is a bug
                self._progress()
            wait(running)

    def _stopped(self) -> bool:
        return self._cancel.is_set() or self._ingest_error is not None

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_EVERY_S:
            self._last_progress = now
            self._on_progress(self.frontier.snapshot())

    def _visit(self, url: str, depth: int) -> None:
        try:
            response = self.site.fetch_page(url, self._conditional)
        except FetchError as exc:
            if exc.reason != "cancelled":
                log.info("crawl %s: %s (%s)", url, exc.reason, exc)
                (self.frontier.skipped if exc.skipped else self.frontier.failed)(exc.reason)
            return
        try:
            self._handler.handle(response, depth)
        except Exception:
            log.exception("crawl: unexpected error on %s", url)
            self.frontier.failed("internal_error")

    def _conditional(self, url: str) -> dict[str, str]:
        state = self._states.get(url)
        if state is None or not (state.etag or state.last_modified):
            return {}
        # Without the document a 304 would leave nothing to answer from: fetch in full.
        if self._deps.registry.find_document_by_source(self._kb_id, url) is None:
            return {}
        headers = {"If-None-Match": state.etag} if state.etag else {}
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        return headers

    def _seed_from_sitemaps(self) -> None:
        files: list[str] = []
        for origin in dict.fromkeys(origin_of(u) for u in self._options.start_urls):
            files += self.site.robots.rules(origin + "/").sitemaps()
            files.append(origin + "/sitemap.xml")
        hosts = self._options.scope().hosts
        seen: set[str] = set()
        taken = 0
        while files and len(seen) < MAX_SITEMAP_FILES and not self._cancel.is_set():
            url = normalize_url(files.pop(0))
            if url is None or url in seen or host_of(url) not in hosts:
                continue  # other sites' sitemaps are not ours to read
            seen.add(url)
            try:
                sitemap = parse_sitemap(self.site.fetch_sitemap(url))
            except (FetchError, ValueError) as exc:
                log.info("crawl: sitemap %s not used: %s", url, exc)
                continue
            files += sitemap.sitemaps
            for loc in sitemap.pages[: max(0, self._deps.settings.max_sitemap_urls - taken)]:
                page = normalize_url(loc)
                if page is not None:
                    taken += 1
                    self.frontier.offer(page, 0)

    # -- ingestion ------------------------------------------------------------------------

    def ingest(self, raw: RawSource, state: PageState) -> None:
        """Hand a fetched page to the ingestion thread (blocks while it is behind)."""
        with self._pending_lock:
            self._pending[raw.source] = state
        while not self._stopped():
            try:
                self._to_ingest.put(raw, timeout=0.2)
                return
            except queue.Full:
                continue

    def _sources(self) -> Iterator[RawSource | Marker]:
        """Fetched pages as they come, with ``STORE_NOW`` when the queue runs dry."""
        oldest: float | None = None  # when the first page not yet told to be stored came
        while True:
            timeout = None  # nothing waits to be stored: block until a page comes
            if oldest is not None:
                left = oldest + _STORE_WITHIN_S - time.monotonic()
                timeout = max(0.0, min(_IDLE_S, left))
            try:
                raw = self._to_ingest.get(timeout=timeout)
            except queue.Empty:
                oldest = None
                yield STORE_NOW
                continue
            if raw is None:
                return
            if oldest is None:
                oldest = time.monotonic()
            yield raw

    def _ingest_loop(self) -> None:
        try:
            self._deps.ingestion.ingest_many(self._kb_id, self._sources(), on_done=self._ingested)
            self._save_states()
        except BaseException as exc:
            self._ingest_error = exc
            while self._to_ingest.get() is not None:  # let blocked fetchers finish
                pass

    def _ingested(self, raw: RawSource, result: IngestResult | KBError) -> None:
        with self._pending_lock:
            state = self._pending.pop(raw.source)
        if isinstance(result, KBError):
            reason, skipped = _ingest_failure(result)
            (self.frontier.skipped if skipped else self.frontier.failed)(reason)
            return
        if result.outcome == "unchanged":
            self.frontier.add(unchanged=1)
        else:
            self.frontier.add(ingested=1)
        self._to_save.append(state)
        if len(self._to_save) >= _SAVE_EVERY:
            self._save_states()

    def _save_states(self) -> None:
        # Only pages whose document is stored get validators: a 304 must have one to stand for.
        self._deps.pages.save_pages(self._kb_id, self._to_save)
        self._to_save = []

    def remove_document(self, url: str) -> bool:
        """Delete the document crawled from ``url``, if there is one."""
        self._deps.pages.forget_page(self._kb_id, url)
        document = self._deps.registry.find_document_by_source(self._kb_id, url)
        if document is None:
            return False
        self._deps.ingestion.delete_document(self._kb_id, document.id)
        return True


def _ingest_failure(error: KBError) -> tuple[str, bool]:
    """The reason a page did not become a document, and whether that was a skip."""
    skips = {
        "unsupported_media_type": "unsupported_content_type",
        "payload_too_large": "too_large",
        "empty_document": "no_text",
        "no_extractable_text": "no_text",
    }
    if error.code in skips:
        return skips[error.code], True
    return error.code, False
