"""The analytics report on a generated history (real SQLite, the real bundled model) gives the
figures computed independently here, in plain Python, from the same history."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.analytics import (
    AnalyticsService,
    Report,
    bucket_start,
    cluster,
    cosine_threshold,
    merge_equal,
)
from kb.db.analytics import AnalyticsQueries, Period
from kb.db.conversations import ConversationRepository
from kb.db.feedback import FeedbackRepository
from kb.db.leads import LeadRepository
from kb.db.registry import Registry
from kb.embeddings.base import Embedder
from kb.errors import InvalidInput, KnowledgeBaseNotFound
from kb.runtime.events import EventBus
from tests.support.history import TOPICS, History, generate, store, utc

START = utc(2026, 3, 1)
# Cuts through the history: rows on both sides of each bound.
PERIOD = Period(START + timedelta(days=5, hours=7), START + timedelta(days=33, hours=2))


def _naive(value: datetime) -> datetime:
    return value.replace(tzinfo=None)


def _inside(at: datetime) -> bool:
    return _naive(PERIOD.start) <= _naive(at) < _naive(PERIOD.end)


@pytest.fixture
def stored(database_url: str) -> Iterator[tuple[Registry, History, History]]:
    registry = Registry(database_url)
    engine = registry.engine
    ConversationRepository(engine)
    FeedbackRepository(engine, EventBus())
    LeadRepository(engine, EventBus())
    kb = registry.create_kb("shop")
    other = registry.create_kb("other")  # its history must not count
    history = generate(kb.id, START, 40, 400, turns=3, visitors=60)
    noise = generate(other.id, START, 40, 50, turns=2, seed=3)
    store(engine, history)
    store(engine, noise)
    yield registry, history, noise
    registry.close()


@pytest.fixture
def service(stored: tuple[Registry, History, History], embedder: Embedder) -> AnalyticsService:
    registry = stored[0]
    return AnalyticsService(
        AnalyticsQueries(registry.engine), registry, lambda _kb: (embedder, 0.3), top=20
    )


def _expected(history: History) -> dict[str, Any]:
    """Every figure, from the generated rows alone."""
    conversations = [c for c in history.conversations if _inside(c["created_at"])]
    messages = [m for m in history.messages if _inside(m["created_at"])]
    bots = [m for m in messages if m["role"] == "bot"]
    users_of = {c["id"]: c["user_id"] for c in history.conversations}
    feedback = [f for f in history.feedback if _inside(f["created_at"])]
    latencies = sorted(m["latency_ms"] for m in bots)
    cited: Counter[str] = Counter()
    for m in bots:
        cited.update({c["document_id"] for c in m["citations"]})
    # The message just before each not-found answer of the period, when it is a question.
    previous: dict[str, dict[str, Any]] = {}
    unanswered: Counter[str] = Counter()
    for m in history.messages:  # generated in insertion order
        before = previous.get(m["conversation_id"]) or {"role": None}
        not_found = m["role"] == "bot" and m["grounded"] is False and _inside(m["created_at"])
        if not_found and before["role"] == "user":
            unanswered[before["text"]] += 1
        previous[m["conversation_id"]] = m
    return {
        "conversations": len(conversations),
        "handoffs": sum(1 for c in conversations if c["handoff_at"] is not None),
        "messages": len(messages),
        "questions": sum(1 for m in messages if m["role"] == "user"),
        "answers": len(bots),
        "answered": sum(1 for m in bots if m["grounded"]),
        "not_found": sum(1 for m in bots if m["grounded"] is False),
        "visitors": len({users_of[m["conversation_id"]] for m in messages}),
        "feedback_up": sum(1 for f in feedback if f["rating"] > 0),
        "feedback_down": sum(1 for f in feedback if f["rating"] < 0),
        "leads": sum(1 for lead in history.leads if _inside(lead["created_at"])),
        "p50": latencies[math.ceil(0.5 * len(latencies)) - 1],
        "p95": latencies[math.ceil(0.95 * len(latencies)) - 1],
        "cited": cited,
        "asked": Counter(m["text"] for m in messages if m["role"] == "user"),
        "unanswered": unanswered,
    }


def test_the_figures_are_those_of_the_history(
    service: AnalyticsService, stored: tuple[Registry, History, History]
) -> None:
    _, history, _ = stored
    report = service.report(history.kb_id, PERIOD)
    expected = _expected(history)
    totals = report.totals
    for name in (
        "conversations",
        "handoffs",
        "messages",
        "questions",
        "answers",
        "answered",
        "not_found",
        "visitors",
        "feedback_up",
        "feedback_down",
        "leads",
    ):
        assert getattr(totals, name) == expected[name], name
    assert expected["leads"] > 0 and expected["handoffs"] > 0  # the history exercises them
    assert report.answered_rate == pytest.approx(
        expected["answered"] / (expected["answered"] + expected["not_found"])
    )
    assert report.handoff_rate == pytest.approx(expected["handoffs"] / expected["conversations"])
    up, down = expected["feedback_up"], expected["feedback_down"]
    assert report.feedback_score == pytest.approx(up / (up + down))
    assert (report.latency.p50_ms, report.latency.p95_ms) == (expected["p50"], expected["p95"])
    assert report.latency.count == expected["answers"]


def test_cited_and_never_cited_documents(
    service: AnalyticsService, stored: tuple[Registry, History, History]
) -> None:
    _, history, _ = stored
    report = service.report(history.kb_id, PERIOD)
    cited = _expected(history)["cited"]
    assert {d.document_id: d.citations for d in report.most_cited} == dict(cited)
    counts = [d.citations for d in report.most_cited]
    assert counts == sorted(counts, reverse=True)
    never = {d["id"] for d in history.documents} - set(cited)
    assert {d.document_id for d in report.never_cited} == never and len(never) == 2
    assert report.never_cited_total == 2


def _topic_counts(questions: Counter[str]) -> dict[str, int]:
    return {line[0]: sum(questions[q] for q in line) for line in TOPICS}


def _check_topics(topics: list[Any], questions: Counter[str]) -> None:
    for leader, count in _topic_counts(questions).items():
        line = next(line for line in TOPICS if line[0] == leader)
        (topic,) = [t for t in topics if t.question in line]
        assert topic.count == count, leader
        assert set(topic.examples) <= set(line)


def test_questions_are_grouped_by_meaning(
    service: AnalyticsService, stored: tuple[Registry, History, History]
) -> None:
    """Paraphrases ("What is the price of the starter plan?") join their topic; case and
    punctuation variants are one question; topics are counted right."""
    _, history, _ = stored
    report = service.report(history.kb_id, PERIOD)
    expected = _expected(history)
    _check_topics(report.top_questions, expected["asked"])
    _check_topics(report.top_unanswered, expected["unanswered"])
    price = next(t for t in report.top_questions if t.question in TOPICS[0])
    assert price.distinct == 3  # three wordings, not three case variants
    assert report.distinct_questions == len(expected["asked"])
    assert report.distinct_unanswered == len(expected["unanswered"])


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
def test_the_series_adds_up_per_bucket(
    service: AnalyticsService, stored: tuple[Registry, History, History], granularity: Any
) -> None:
    _, history, _ = stored
    report: Report = service.report(history.kb_id, PERIOD, granularity)
    messages: Counter[Any] = Counter(
        bucket_start(m["created_at"].date(), granularity)
        for m in history.messages
        if _inside(m["created_at"])
    )
    started: Counter[Any] = Counter(
        bucket_start(c["created_at"].date(), granularity)
        for c in history.conversations
        if _inside(c["created_at"])
    )
    starts = [b.start for b in report.series]
    assert starts == sorted(starts) and starts[0] == bucket_start(PERIOD.start.date(), granularity)
    for bucket in report.series:
        assert bucket.totals.messages == messages.get(bucket.start, 0), bucket.start
        assert bucket.totals.conversations == started.get(bucket.start, 0), bucket.start
    assert sum(b.totals.leads for b in report.series) == report.totals.leads


def test_an_empty_or_unknown_request_is_refused(
    service: AnalyticsService, stored: tuple[Registry, History, History]
) -> None:
    with pytest.raises(InvalidInput):
        service.report(stored[1].kb_id, Period(PERIOD.end, PERIOD.start))
    with pytest.raises(KnowledgeBaseNotFound):
        service.report("kb_missing", PERIOD)
    empty = service.report(stored[1].kb_id, Period(utc(2020, 1, 1), utc(2020, 2, 1)))
    assert empty.totals.messages == 0 and empty.answered_rate is None
    assert empty.latency.p50_ms is None and empty.top_questions == []


def test_cluster_keeps_unrelated_questions_apart(embedder: Embedder) -> None:
    questions = merge_equal(
        [("Do you ship to Canada?", 3), ("do you ship to canada", 2), ("Where is my order?", 4)]
    )
    assert questions == [("Do you ship to Canada?", 5), ("Where is my order?", 4)]
    vectors = embedder.embed([q for q, _ in questions], kind="query")
    topics = cluster(questions, vectors, cosine_threshold(0.65, 0.3))
    assert [(t.question, t.count) for t in topics] == [
        ("Do you ship to Canada?", 5),
        ("Where is my order?", 4),
    ]
