"""The analytics report on 100k stored messages: is it interactive (at most 1 s)?

Generates a history (``tests.support.history``: 10,000 conversations of 5 question-answer pairs
over 90 days, feedback on 15% of the answers, leads in 5% of the conversations, a fifth of the
questions one of a kind) in a temporary SQLite registry, bulk-inserted, then times the report
for the whole period: the SQL part alone and the whole report with the questions grouped by
meaning (embedded with the bundled model: the first run embeds them, later runs find the vectors
cached). Prints the p50 of ``--runs`` runs of each, and the figures of the report.

Usage: .venv/bin/python bench/analytics.py [--conversations 10000] [--turns 5] [--runs 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.analytics import AnalyticsService  # noqa: E402
from kb.db.analytics import AnalyticsQueries, Period  # noqa: E402
from kb.db.conversations import ConversationRepository  # noqa: E402
from kb.db.feedback import FeedbackRepository  # noqa: E402
from kb.db.leads import LeadRepository  # noqa: E402
from kb.db.registry import Registry  # noqa: E402
from kb.embeddings.catalog import EmbedderOptions, load_embedder, spec_for  # noqa: E402
from kb.runtime.events import EventBus  # noqa: E402
from tests.support.history import generate, store, utc  # noqa: E402


def _timed(call: Callable[[], object], runs: int) -> tuple[float, float, list[float]]:
    """p50 wall-clock seconds, p50 CPU seconds of this process, and every wall-clock time."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        call()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return statistics.median(walls), statistics.median(cpus), walls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--questions", type=int, default=300, help="questions clustered")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        registry = Registry(f"sqlite:///{Path(tmp) / 'kb.sqlite3'}")
        engine = registry.engine
        ConversationRepository(engine)
        FeedbackRepository(engine, EventBus())
        LeadRepository(engine, EventBus())
        kb = registry.create_kb("bench")
        start = utc(2026, 1, 1)
        history = generate(kb.id, start, 90, args.conversations, turns=args.turns, visitors=3000)
        began = time.perf_counter()
        store(engine, history)
        print(
            f"stored {len(history.messages):,} messages, {len(history.conversations):,} "
            f"conversations, {len(history.feedback):,} feedback, {len(history.leads):,} leads "
            f"in {time.perf_counter() - began:.1f} s"
        )
        period = Period(start, utc(2026, 4, 1))
        queries = AnalyticsQueries(engine)
        sql_p50, sql_cpu, sql_runs = _timed(
            lambda: queries.raw(kb.id, period, args.questions), args.runs
        )
        embedder = load_embedder(args.model, EmbedderOptions(cache_dir=REPO / "data" / "models"))
        embedder.embed(["warm up"])
        service = AnalyticsService(
            queries,
            registry,
            lambda _kb: (embedder, spec_for(args.model).relevance_floor),
            max_questions=args.questions,
        )
        began = time.perf_counter()
        report = service.report(kb.id, period, "week")
        cold = time.perf_counter() - began
        warm_p50, warm_cpu, warm_runs = _timed(
            lambda: service.report(kb.id, period, "week"), args.runs
        )
        print(
            f"SQL figures:   p50 {sql_p50 * 1000:.0f} ms wall, {sql_cpu * 1000:.0f} ms CPU "
            f"(runs: {_ms(sql_runs)})"
        )
        print(f"report, first: {cold * 1000:.0f} ms  (embeds the {args.questions} top questions)")
        print(
            f"report, later: p50 {warm_p50 * 1000:.0f} ms wall, {warm_cpu * 1000:.0f} ms CPU "
            f"(runs: {_ms(warm_runs)})"
        )
        print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        totals = report.totals
        print(
            f"figures: {totals.conversations} conversations, {totals.messages} messages, "
            f"{totals.visitors} visitors, answered {report.answered_rate:.3f}, not found "
            f"{report.not_found_rate:.3f}, handoff {report.handoff_rate:.3f}, feedback "
            f"{totals.feedback_up} up / {totals.feedback_down} down, latency p50 "
            f"{report.latency.p50_ms} ms p95 {report.latency.p95_ms} ms, {totals.leads} leads, "
            f"{report.distinct_questions} distinct questions -> {len(report.top_questions)} "
            f"top topics (first: {report.top_questions[0].question!r} "
            f"x{report.top_questions[0].count}), {len(report.series)} weekly buckets"
        )
        registry.close()


def _ms(runs: list[float]) -> str:
    return ", ".join(f"{r * 1000:.0f}" for r in runs)


if __name__ == "__main__":
    main()
