"""The website crawler: polite (robots.txt, delays), incremental (conditional requests), safe
(address checks on every hop), feeding the ingestion pipeline one document per page."""

from ingest.crawl.options import CrawlOptions, build_options
from ingest.crawl.runner import CrawlDeps, CrawlRunner
from ingest.crawl.service import CrawlService

__all__ = ["CrawlDeps", "CrawlOptions", "CrawlRunner", "CrawlService", "build_options"]
