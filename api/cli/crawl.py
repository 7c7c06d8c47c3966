"""``kb crawl KB URL``: crawl a site in the foreground with a live progress bar."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.container import build_container
from ingest.crawl import CrawlService
from kb.db.crawls import CrawlCounts, CrawlJob

err = Console(stderr=True)
console = Console()


def _done(counts: CrawlCounts) -> int:
    """Discovered URLs that reached an outcome."""
    return (
        counts.ingested
        + counts.unchanged
        + counts.removed
        + sum(counts.skipped.values())
        + sum(counts.failed.values())
    )


def _summary(job: CrawlJob) -> str:
    c = job.counts
    lines = [
        f"crawl {job.id}: {job.status}",
        f"{c.discovered} discovered, {c.fetched} fetched, {c.ingested} ingested, "
        f"{c.unchanged} unchanged, {c.removed} removed",
    ]
    for label, reasons in (("skipped", c.skipped), ("failed", c.failed)):
        if reasons:
            detail = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items()))
            lines.append(f"{label}: {detail}")
    if job.error:
        lines.append(f"error: {job.error}")
    return "\n".join(lines)


def crawl_command(
    kb: Annotated[str, typer.Argument(help="Knowledge base id or name (created if missing).")],
    urls: Annotated[list[str], typer.Argument(help="Start URL(s).")],
    max_pages: Annotated[int | None, typer.Option(help="Most pages fetched.")] = None,
    max_depth: Annotated[int | None, typer.Option(help="Most links followed from a start.")] = None,
    concurrency: Annotated[int | None, typer.Option(help="Parallel requests.")] = None,
    delay: Annotated[float | None, typer.Option(help="Seconds between requests to a host.")] = None,
    path_prefix: Annotated[str | None, typer.Option(help="Only paths starting with this.")] = None,
    include: Annotated[list[str] | None, typer.Option(help="Regex a URL must match.")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Regex that skips a URL.")] = None,
    sitemaps: Annotated[bool, typer.Option(help="Seed from the site's sitemaps.")] = True,
) -> None:
    """Crawl a website into a knowledge base (robots.txt obeyed; re-crawls are incremental)."""
    container = build_container()
    try:
        target = container.catalog.resolve_kb(kb) or container.catalog.create_kb(kb)
        job = container.crawls.start(
            target.id,
            urls,
            max_pages=max_pages,
            max_depth=max_depth,
            concurrency=concurrency,
            delay_s=delay,
            path_prefix=path_prefix,
            include=include or [],
            exclude=exclude or [],
            use_sitemaps=sitemaps,
        )
        job = _follow(container.crawls, job)
    finally:
        container.close()
    console.print(_summary(job), markup=False, highlight=False)
    if job.status != "done":
        raise typer.Exit(1)


def _follow(crawls: CrawlService, job: CrawlJob) -> CrawlJob:
    """Draw progress until the crawl ends; Ctrl-C cancels it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), console=err) as progress:
        task = progress.add_task("crawling", total=None)
        try:
            while not crawls.wait(job.id, timeout=0.2):
                job = crawls.get(job.kb_id, job.id)
                counts = job.counts
                progress.update(
                    task,
                    total=max(counts.discovered, 1),
                    completed=_done(counts),
                    description=f"crawling: {counts.ingested} ingested",
                )
        except KeyboardInterrupt:
            err.print("cancelling...")
            crawls.cancel(job.kb_id, job.id)
            crawls.wait(job.id)
    return crawls.get(job.kb_id, job.id)
