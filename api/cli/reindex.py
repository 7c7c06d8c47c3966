"""``kb reindex KB --model NAME``: re-index a knowledge base with another embedding model,
in the foreground with a progress bar (the old index serves until the new one is complete)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from api.container import build_container
from ingest.pipeline.reindex import ReindexService
from kb.db.indexes import ReindexJob

err = Console(stderr=True)
console = Console()


def reindex_command(
    kb: Annotated[str, typer.Argument(help="Knowledge base id or name.")],
    model: Annotated[
        str, typer.Option("--model", help="Embedding model, e.g. bundled:multilingual-e5-small.")
    ],
) -> None:
    """Re-index a knowledge base with another embedding model (Ctrl-C cancels; the old index
    stays)."""
    container = build_container()
    try:
        target = container.catalog.resolve_kb(kb)
        if target is None:
            err.print(f"[red]No knowledge base with id or name {kb!r}.[/red]")
            raise typer.Exit(2)
        job = _follow(container.reindex, container.reindex.start(target.id, model))
    finally:
        container.close()
    line = f"reindex {job.id}: {job.status}, {job.done}/{job.total} chunks with {job.model}"
    console.print(line + (f"\nerror: {job.error}" if job.error else ""), markup=False)
    if job.status != "done":
        raise typer.Exit(1)


def _follow(reindex: ReindexService, job: ReindexJob) -> ReindexJob:
    """Draw progress until the job ends; Ctrl-C cancels it."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn(), console=err) as progress:
        task = progress.add_task(f"re-indexing with {job.model}", total=None)
        try:
            while not reindex.wait(job.id, timeout=0.2):
                job = reindex.get(job.kb_id, job.id)
                progress.update(task, total=max(job.total, 1), completed=job.done)
        except KeyboardInterrupt:
            err.print("cancelling...")
            reindex.cancel(job.kb_id, job.id)
            reindex.wait(job.id)
    return reindex.get(job.kb_id, job.id)
