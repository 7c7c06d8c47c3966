"""``kb eval``: compare retrieval modes on a BEIR-layout collection, with progress bars."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from api.cli.evaluate import evaluate_beir, report_rows


def eval_command(
    folder: Annotated[
        Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/")
    ],
    modes: Annotated[
        str, typer.Option(help="Comma-separated: dense, lexical, hybrid, hybrid:<fusion>.")
    ] = "dense,lexical,hybrid",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] = None,
) -> None:
    """Ingest a BEIR collection into a throw-away knowledge base and print nDCG@10, Recall@10,
    Recall@100 and MRR@10 for each retrieval mode side by side."""
    console, err = Console(), Console(stderr=True)
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err) as bars:
        tasks: dict[str, TaskID] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done)

        report = evaluate_beir(folder, [m.strip() for m in modes.split(",") if m.strip()],
                               progress=progress)  # fmt: skip
    table = Table(
        "mode", "nDCG@10", "Recall@10", "Recall@100", "MRR@10",
        title=f"{report.collection}: {report.documents} passages, {report.queries} judged queries",
    )  # fmt: skip
    for row in report_rows(report):
        table.add_row(*row)
    console.print(table)
    console.print(f"ingested in {report.ingest_seconds:.1f} s")
    if json_out:
        json_out.write_text(json.dumps(asdict(report), indent=2))
        console.print(f"report written to {json_out}")
