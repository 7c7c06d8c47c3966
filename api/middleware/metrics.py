"""Prometheus metrics: HTTP traffic counted by a pure-ASGI middleware, stored contents read from
the registry at scrape time. Each app has its own ``CollectorRegistry``."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.middleware.request_context import route_template
from kb.db.base import DocumentRow, KnowledgeBaseRow
from kb.db.crawls import CrawlRow

log = logging.getLogger(__name__)
UNMATCHED = "unmatched"
# Any other method is counted as "other": label values stay a small, known set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class InventoryCollector(Collector):
    """Knowledge bases, documents, chunks and crawl jobs by status, counted at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        """Four cheap aggregate queries; nothing is yielded if the registry cannot answer."""
        try:
            with self._engine.connect() as db:
                kbs = db.scalar(select(func.count()).select_from(KnowledgeBaseRow)) or 0
                docs, chunks = db.execute(
                    select(func.count(), func.coalesce(func.sum(DocumentRow.chunk_count), 0))
                ).one()
                crawls = db.execute(
                    select(CrawlRow.status, func.count()).group_by(CrawlRow.status)
                ).all()
        except Exception:  # a scrape must not fail because the database is busy
            log.warning("registry metrics unavailable", exc_info=True)
            return
        yield GaugeMetricFamily("kb_knowledge_bases", "Knowledge bases stored.", value=kbs)
        yield GaugeMetricFamily("kb_documents", "Documents stored.", value=docs)
        yield GaugeMetricFamily("kb_chunks", "Passages indexed.", value=chunks)
        jobs = GaugeMetricFamily("kb_crawl_jobs", "Crawl jobs by status.", labels=["status"])
        for status, count in crawls:
            jobs.add_metric([status], count)
        yield jobs


class Metrics:
    """The metrics of one app and the registry they are exposed from."""

    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kb_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "kb_http_request_duration_seconds",
            "Time to answer an HTTP request (streams: until the last byte).",
            ["method", "route"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "kb_http_requests_in_flight", "HTTP requests being answered.", registry=self.registry
        )
        ProcessCollector(registry=self.registry)
        self.registry.register(InventoryCollector(engine))

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric and its media type: the Prometheus text format (0.0.4) unless the
        ``Accept`` header asks for OpenMetrics or text 1.0.0, as Prometheus itself does."""
        encode, media_type = choose_encoder(accept)
        return encode(self.registry), media_type

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        method = method if method in _METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)


class MetricsMiddleware:
    """Counts requests by route template (``unmatched`` for unknown paths) and times them."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what an unhandled error is answered with

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_counted)
        finally:
            self.metrics.in_flight.dec()
            route = route_template(scope) or UNMATCHED
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
