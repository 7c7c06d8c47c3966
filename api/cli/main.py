"""The ``kb`` command: serve the API, ingest files, ask questions, list what is stored."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.cli.crawl import crawl_command
from api.cli.doctor import doctor_command
from api.cli.eval import eval_command
from api.cli.eval_answers import eval_answers_command
from api.cli.keys import keys_app, oauth_app
from api.cli.migrate import migrate_command
from api.cli.reindex import reindex_command
from api.cli.worker import worker_command
from api.container import Container, build_container
from engine.question import Question
from ingest.pipeline.service import IngestResult
from ingest.sources import RawSource, iter_files
from kb.db.migrate import SchemaBehind
from kb.errors import KBError
from kb.models import KnowledgeBase
from kb.settings import Settings

app = typer.Typer(
    help="Knowledge-base chatbot engine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _container(settings: Settings | None = None) -> Container:
    try:
        return build_container(settings)
    except SchemaBehind as exc:  # a server database not yet migrated: say what to run
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(1) from None


def _kb(container: Container, ref: str, create: bool = False) -> KnowledgeBase:
    found = container.catalog.resolve_kb(ref)
    if found:
        return found
    if create:
        err.print(f"Creating knowledge base [bold]{ref}[/bold].")
        return container.catalog.create_kb(ref)
    err.print(f"[red]No knowledge base with id or name {ref!r}.[/red]")
    raise typer.Exit(2)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
) -> None:
    """Start the HTTP API (defaults from KB_API__HOST / KB_API__PORT: 127.0.0.1:8000)."""
    import uvicorn

    from api.app import create_app
    from api.log_config import configure_logging
    from api.server.options import uvicorn_options

    settings = Settings()
    configure_logging(settings.log)  # JSON lines on stderr unless KB_LOG__FORMAT=text
    container = _container(settings)
    uvicorn.run(
        create_app(container),
        host=host or container.settings.api.host,
        port=port or container.settings.api.port,
        # uvicorn's messages go through our handler; our access log replaces uvicorn's.
        log_config=None,
        access_log=False,
        # Head deadline, connections per address, forwarded headers from trusted proxies only.
        **uvicorn_options(container.settings.api),
    )


@app.command()
def create(
    name: str,
    description: Annotated[str, typer.Option(help="What it holds.")] = "",
    model: Annotated[
        str | None,
        typer.Option("--model", help="Embedding model (default: KB_EMBEDDING__MODEL)."),
    ] = None,
) -> None:
    """Create a knowledge base."""
    kb = _container().catalog.create_kb(name, description, embedding_model=model)
    console.print(f"{kb.id}\t{kb.name}")


@app.command()
def kbs() -> None:
    """List knowledge bases."""
    catalog = _container().catalog
    items, _ = catalog.list_kbs(1000, 0)
    table = Table("id", "name", "documents", "chunks", "embedding model", "created")
    for kb in items:
        index = catalog.index_of(kb.id)
        table.add_row(
            kb.id,
            kb.name,
            str(kb.document_count),
            str(kb.chunk_count),
            index.model if index else "",
            f"{kb.created_at:%F %T}",
        )
    console.print(table)


@app.command()
def docs(kb: Annotated[str, typer.Argument(help="Knowledge base id or name.")]) -> None:
    """List a knowledge base's documents."""
    container = _container()
    items, total = container.catalog.list_documents(_kb(container, kb).id, 1000, 0)
    table = Table("id", "title", "source", "type", "chunks", "updated", title=f"{total} documents")
    for doc in items:
        table.add_row(
            doc.id,
            doc.title,
            doc.source,
            doc.media_type,
            str(doc.chunk_count),
            f"{doc.updated_at:%F %T}",
        )
    console.print(table)


@app.command()
def ingest(
    kb: Annotated[str, typer.Argument(help="Knowledge base id or name (created if missing).")],
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (recursive).")],
) -> None:
    """Ingest files into a knowledge base, with a progress bar."""
    container = _container()
    target = _kb(container, kb, create=True)
    try:
        files = list(iter_files(paths))
    except FileNotFoundError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    failures: list[str] = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        task = progress.add_task("ingesting", total=len(files))

        def done(raw: RawSource, outcome: IngestResult | KBError) -> None:
            if isinstance(outcome, KBError):
                counts["failed"] += 1
                failures.append(f"{raw.filename}: {outcome.detail}")
            else:
                counts[outcome.outcome] += 1
            progress.update(task, advance=1, description=f"ingesting {raw.filename or ''}"[:50])

        sources = (
            RawSource(path.read_bytes(), source=str(path.resolve()), filename=path.name)
            for path in files
        )
        container.ingestion.ingest_many(target.id, sources, on_done=done)
    for failure in failures:
        err.print(f"[yellow]skipped[/yellow] {failure}")
    console.print(", ".join(f"{n} {k}" for k, n in counts.items()))
    if counts["failed"]:
        raise typer.Exit(1)


@app.command()
def ask(
    kb: Annotated[str, typer.Argument(help="Knowledge base id or name.")],
    question: str,
    model: Annotated[str | None, typer.Option(help="extractive, local, openai-compatible")] = None,
    top_k: Annotated[int, typer.Option(help="Passages to retrieve.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Ask a question and print the cited answer; exit 3 when it is not grounded (either
    output)."""
    container = _container()
    asked = Question(_kb(container, kb).id, question, model=model, top_k=top_k)
    answer = container.queries.answer(asked)
    if as_json:
        from api.schemas.common import AnswerOut

        console.print_json(json.dumps(AnswerOut.of(answer).model_dump(mode="json")))
    else:
        console.print(answer.answer, markup=False, highlight=False)
        for c in answer.citations:
            page = f", page {c.page}" if c.page is not None else ""
            console.print(f"[{c.number}] {c.title} ({c.source}{page})", markup=False)
    if not answer.grounded:
        raise typer.Exit(3)


app.command("eval")(eval_command)
app.command("eval-answers")(eval_answers_command)
app.command("crawl")(crawl_command)
app.command("doctor")(doctor_command)
app.command("reindex")(reindex_command)
app.command("worker")(worker_command)
app.command("migrate")(migrate_command)
app.add_typer(keys_app, name="keys")
app.add_typer(oauth_app, name="oauth-clients")


def main() -> None:
    """Entry point of the ``kb`` script."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KBError as exc:
        err.print(f"[red]{exc.code}[/red]: {exc.detail}")
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
