"""Crawl routes: start a crawl (202), follow its progress, list crawls, cancel."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CrawlsDep, LimitDep, OffsetDep
from api.schemas.crawls import CrawlCreate, CrawlOut, CrawlPage

router = APIRouter(prefix="/v1/kbs/{kb_id}/crawls", tags=["crawls"])


@router.post("", response_model=CrawlOut, status_code=status.HTTP_202_ACCEPTED)
def start_crawl(kb_id: str, body: CrawlCreate, crawls: CrawlsDep) -> CrawlOut:
    """Start crawling a site into the knowledge base; answers at once, the crawl runs on.

    Start URLs that are not http(s), or whose host resolves to a private, loopback,
    link-local, multicast or reserved address (unless allowed by KB_CRAWL__ALLOWED_HOSTS),
    are refused with 400 ``url_refused``.
    """
    return CrawlOut.of(crawls.start(kb_id, body.start_urls, **body.options()))


@router.get("", response_model=CrawlPage)
def list_crawls(
    kb_id: str, crawls: CrawlsDep, limit: LimitDep = 100, offset: OffsetDep = 0
) -> CrawlPage:
    """The knowledge base's crawls, newest first."""
    items, total = crawls.list_jobs(kb_id, limit, offset)
    return CrawlPage(items=[CrawlOut.of(j) for j in items], total=total, limit=limit, offset=offset)


@router.get("/{crawl_id}", response_model=CrawlOut)
def get_crawl(kb_id: str, crawl_id: str, crawls: CrawlsDep) -> CrawlOut:
    """A crawl's status and counts."""
    return CrawlOut.of(crawls.get(kb_id, crawl_id))


@router.delete("/{crawl_id}", response_model=CrawlOut, status_code=status.HTTP_202_ACCEPTED)
def cancel_crawl(kb_id: str, crawl_id: str, crawls: CrawlsDep) -> CrawlOut:
    """Cancel a queued or running crawl (409 ``crawl_finished`` once it has ended).

    Pages ingested so far stay. The crawl is usually ``cancelled`` in the answer; a crawl
    still finishing a download may show ``running`` for a few seconds more.
    """
    return CrawlOut.of(crawls.cancel(kb_id, crawl_id))
