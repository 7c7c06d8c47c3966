"""What one crawl is asked to do, validated against the configured limits."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from ingest.crawl.urls import Scope, host_of, normalize_url
from kb.errors import InvalidInput, UrlRefused
from kb.settings import CrawlSettings

MAX_PATTERNS = 20
MAX_PATTERN_LENGTH = 300


@dataclass(frozen=True)
class CrawlOptions:
    """Start URLs, limits, scope and politeness of one crawl (stored with the job)."""

    start_urls: list[str]
    max_pages: int
    max_depth: int
    concurrency: int
    delay_s: float
    path_prefix: str | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)
    use_sitemaps: bool = True
    skip_near_duplicates: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlOptions:
        """Rebuild from ``to_dict`` output."""
        return cls(**data)

    def scope(self) -> Scope:
        """The hosts of the start URLs (plus extra hosts), the path prefix and the patterns."""
        hosts = {host_of(u) for u in self.start_urls}
        hosts |= {h.lower() for h in self.extra_hosts}
        return Scope(
            hosts=frozenset(hosts),
            path_prefix=self.path_prefix,
            include=tuple(re.compile(p) for p in self.include),
            exclude=tuple(re.compile(p) for p in self.exclude),
        )


def build_options(settings: CrawlSettings, start_urls: list[str], **given: Any) -> CrawlOptions:
    """Options for a crawl request: defaults from settings, URLs normalised, limits enforced.

    Raises UrlRefused for a URL that is not http(s) and InvalidInput for bad values.
    """
    if not start_urls:
        raise InvalidInput("A crawl needs at least one start URL.")
    urls = []
    for url in start_urls:
        normal = normalize_url(url)
        if normal is None:
            raise UrlRefused(f"{url!r} is not an http or https URL.", url=url)
        if len(normal) > settings.max_url_length:
            raise UrlRefused(f"{url!r} is longer than {settings.max_url_length} characters.")
        urls.append(normal)
    values = {k: v for k, v in given.items() if v is not None}
    options = CrawlOptions(
        start_urls=list(dict.fromkeys(urls)),
        max_pages=values.pop("max_pages", settings.max_pages),
        max_depth=values.pop("max_depth", settings.max_depth),
        concurrency=values.pop("concurrency", settings.concurrency),
        delay_s=values.pop("delay_s", settings.delay_s),
        **values,
    )
    _check_limits(settings, options)
    return options


def _check_limits(settings: CrawlSettings, options: CrawlOptions) -> None:
    if not 1 <= options.max_pages <= settings.max_pages_limit:
        raise InvalidInput(f"max_pages must be between 1 and {settings.max_pages_limit}.")
    if not 1 <= options.concurrency <= settings.max_concurrency:
        raise InvalidInput(f"concurrency must be between 1 and {settings.max_concurrency}.")
    if options.max_depth < 0 or options.delay_s < 0:
        raise InvalidInput("max_depth and delay_s must not be negative.")
    if options.path_prefix is not None and not options.path_prefix.startswith("/"):
        raise InvalidInput("path_prefix must start with '/'.")
    patterns = [*options.include, *options.exclude]
    if len(patterns) > MAX_PATTERNS or any(len(p) > MAX_PATTERN_LENGTH for p in patterns):
        raise InvalidInput(
            f"At most {MAX_PATTERNS} patterns of at most {MAX_PATTERN_LENGTH} characters."
        )
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInput(f"Invalid pattern {pattern!r}: {exc}.") from exc
