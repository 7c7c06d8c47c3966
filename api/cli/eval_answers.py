"""``kb eval-answers``: ask a question set of a knowledge base with one or more models and print
answered, correct-citation and refusal rates, unverified and verified, side by side (the same
code is reachable from Python as ``evaluate_answer_set``)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.cli.evaluate import ingest_collection, scratch_settings
from api.container import Container, build_container
from engine.answer_eval import AnswerScore, evaluate_answers, load_cases
from engine.evaluation import load_beir
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import KnowledgeBaseNotFound
from kb.models import KnowledgeBase
from kb.settings import Settings

Tick = Callable[[str, int, int], None]


def evaluate_answer_set(
    kb: str | Path,
    questions: Path,
    models: list[str | None],
    settings: Settings | None = None,
    embedder: SentenceTransformerEmbedder | None = None,
    top_k: int = 5,
    progress: Tick | None = None,
) -> list[AnswerScore]:
    """Score each model on the question set. ``kb`` names a knowledge base of the configured
    store, or is a BEIR folder, ingested into a throw-away one first."""
    cases = load_cases(questions)
    with _knowledge_base(kb, settings or Settings(), embedder, progress) as (container, target):
        scores = []
        for model in models:
            label = model or "default"
            done = 0

            def tick(label: str = label) -> None:
                nonlocal done
                done += 1
                if progress:
                    progress(label, done, len(cases))

            scores.append(
                evaluate_answers(container.queries, target, cases, model, top_k, on_case=tick)
            )
        return scores


@contextmanager
def _knowledge_base(
    kb: str | Path,
    settings: Settings,
    embedder: SentenceTransformerEmbedder | None,
    progress: Tick | None,
) -> Iterator[tuple[Container, KnowledgeBase]]:
    folder = Path(kb)
    if (folder / "corpus.jsonl").is_file():
        with tempfile.TemporaryDirectory(prefix="kb-eval-answers-") as tmp:
            container = build_container(scratch_settings(settings, Path(tmp)), embedder=embedder)
            try:
                kb_id = ingest_collection(container, load_beir(folder), progress)
                yield container, container.catalog.get_kb(kb_id)
            finally:
                container.close()
        return
    container = build_container(settings, embedder=embedder)
    try:
        found = container.registry.find_kb(str(kb), counts=False)
        if found is None:
            raise KnowledgeBaseNotFound(f"No knowledge base with id or name {str(kb)!r}.")
        yield container, found
    finally:
        container.close()


def eval_answers_command(
    kb: Annotated[str, typer.Argument(help="Knowledge base id or name, or a BEIR folder.")],
    questions: Annotated[Path, typer.Argument(help="Question file (JSON lines).")],
    model: Annotated[
        list[str] | None,
        typer.Option(help="Answering model; repeat to compare (default: the KB's)."),
    ] = None,
    top_k: Annotated[int, typer.Option(help="Passages per question.")] = 5,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the report here.")] = None,
) -> None:
    """Ask every question and print, per model, the answered rate on answerable questions,
    the correct-citation rate, the refusal rate on unanswerable ones (near misses apart) and
    the share of unsupported claims before and after verification."""
    console, err = Console(), Console(stderr=True)
    console.width = max(console.width, 110)  # the table's seven columns, unwrapped
    columns = (TextColumn("{task.description:>12}"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())  # fmt: skip
    with Progress(*columns, console=err) as bars:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done)  # type: ignore[arg-type]

        models: list[str | None] = list(model) if model else [None]
        scores = evaluate_answer_set(kb, questions, models, top_k=top_k, progress=progress)
    console.print(score_table(scores, f"{Path(questions).name} on {kb}"))
    if json_out:
        json_out.write_text(json.dumps([asdict(s) for s in scores], indent=2, ensure_ascii=False))
        console.print(f"report written to {json_out}")


def score_table(scores: list[AnswerScore], title: str) -> Table:
    """One row per model and verification (unverified, then verified)."""
    table = Table(title=title)
    table.add_column("model", no_wrap=True)
    for header in ("checked", "answered", "cited right", "refused", "near misses refused",
                   "unsupported claims"):  # fmt: skip
        table.add_column(header, justify="right")
    for s in scores:
        table.add_row(
            s.model, "no", _pct(s.answered_rate_unverified),
            _pct(s.correct_citation_rate_unverified), _pct(s.refusal_rate_unverified),
            _pct(s.near_miss_refusal_rate_unverified), _pct(s.unsupported_before),
        )  # fmt: skip
        table.add_row(
            s.model, "drop", _pct(s.answered_rate), _pct(s.correct_citation_rate),
            _pct(s.refusal_rate), _pct(s.near_miss_refusal_rate), _pct(s.unsupported_after),
        )  # fmt: skip
    return table


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{100 * rate:.1f} %"
