"""``kb doctor``: bring the indexes back in line with the registry after a crash, and say what
was fixed (``kb.reconcile``; ``kb serve`` runs the same at every start)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api.container import build_container
from kb.reconcile import Reconciliation

console = Console()


def doctor_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report; exit 1 when something needs fixing.")
    ] = False,
) -> None:
    """Remove chunks no live document version owns (left by a killed ingestion), the indexes
    and rows of deleted knowledge bases, and Chroma's stray segment folders; print what was
    fixed. Run it with `kb serve` stopped: a version being written looks abandoned."""
    container = build_container()
    try:
        done = container.reconciler.run(dry_run=dry_run)
    finally:
        container.close()
    _print(done)
    if dry_run and not done.clean:
        raise typer.Exit(1)


def _print(done: Reconciliation) -> None:
    if done.repairs:
        table = Table("index", "knowledge base", "document", "version", "chunks", "reason")
        for r in done.repairs:
            table.add_row(
                r.index, r.kb_id, r.document_id or "*", r.version or "*", str(r.chunks), r.reason
            )
        console.print(table)
    console.print(done.summary(), markup=False, highlight=False, soft_wrap=True)
