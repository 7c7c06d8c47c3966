"""Console page of crawls: start one with its options, watch its counts (console.js polls the
JSON endpoint), cancel it, crawl again, and the history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.console.pages import render
from api.console.routing import ConsoleRoute
from api.console.session import PREFIX, KbAccessDep, ReaderDep
from api.deps import CatalogDep, CrawlsDep
from api.schemas.crawls import CrawlCreate, CrawlOut
from kb.errors import ValidationFailed

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
HISTORY = 50


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _see_other(kb_id: str) -> Response:
    return RedirectResponse(f"{PREFIX}/kbs/{kb_id}/crawls", status_code=303)


@router.get("/kbs/{kb_id}/crawls")
def crawls_page(
    request: Request, kb_id: str, caller: KbAccessDep, catalog: CatalogDep, crawls: CrawlsDep
) -> Response:
    """The start form and the knowledge base's crawls, newest first."""
    kb = catalog.get_kb(kb_id)
    jobs, total = crawls.list_jobs(kb.id, HISTORY, 0)
    return render(
        request,
        "crawls.html",
        {
            "kb": kb,
            "tab": "crawls",
            "jobs": [CrawlOut.of(job) for job in jobs],
            "total": total,
            "may_write": caller.may("kb:write"),
        },
    )


@router.post("/kbs/{kb_id}/crawls")
def start(
    kb_id: str,
    caller: KbAccessDep,
    crawls: CrawlsDep,
    start_urls: Annotated[str, Form(max_length=100_000)],
    max_pages: Annotated[int | None, Form()] = None,
    max_depth: Annotated[int | None, Form()] = None,
    path_prefix: Annotated[str, Form(max_length=1000)] = "",
    include: Annotated[str, Form(max_length=100_000)] = "",
    exclude: Annotated[str, Form(max_length=100_000)] = "",
    use_sitemaps: Annotated[bool, Form()] = False,
    skip_near_duplicates: Annotated[bool, Form()] = False,
) -> Response:
    """Start a crawl; the options are the API's (``CrawlCreate``), checked the same way."""
    try:
        body = CrawlCreate(
            start_urls=_lines(start_urls),
            max_pages=max_pages,
            max_depth=max_depth,
            path_prefix=path_prefix.strip() or None,
            include=_lines(include),
            exclude=_lines(exclude),
            use_sitemaps=use_sitemaps,
            skip_near_duplicates=skip_near_duplicates,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"{where}: {first['msg']}") from exc
    crawls.start(kb_id, body.start_urls, **body.options())
    return _see_other(kb_id)


@router.get("/api/kbs/{kb_id}/crawls/{crawl_id}", response_model=CrawlOut)
def crawl_status(kb_id: str, crawl_id: str, caller: ReaderDep, crawls: CrawlsDep) -> CrawlOut:
    """A crawl's status and counts, polled by the page while it runs."""
    return CrawlOut.of(crawls.get(kb_id, crawl_id))


@router.post("/kbs/{kb_id}/crawls/{crawl_id}/cancel")
def cancel(kb_id: str, crawl_id: str, caller: KbAccessDep, crawls: CrawlsDep) -> Response:
    """Cancel a queued or running crawl; what it ingested stays."""
    crawls.cancel(kb_id, crawl_id)
    return _see_other(kb_id)


@router.post("/kbs/{kb_id}/crawls/{crawl_id}/recrawl")
def recrawl(kb_id: str, crawl_id: str, caller: KbAccessDep, crawls: CrawlsDep) -> Response:
    """Crawl again with the same start URLs and options (unchanged pages are not re-embedded)."""
    job = crawls.get(kb_id, crawl_id)
    options = dict(job.options)
    start_urls = options.pop("start_urls", None) or []
    body = CrawlCreate.model_validate({"start_urls": start_urls, **_known(options)})
    crawls.start(kb_id, body.start_urls, **body.options())
    return _see_other(kb_id)


def _known(options: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in options.items() if k in CrawlCreate.model_fields}
