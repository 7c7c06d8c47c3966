"""Figures of a knowledge base's conversations over a period, aggregated in SQL from what is
stored (conversations, messages, feedback, leads), never from logs.

Written in SQLAlchemy Core so the same queries run on SQLite and PostgreSQL; the one
dialect-specific expression (the UTC day of a timestamp) is branched in ``_day``. A period is
``[start, end)`` in UTC; a message counts in the period it was sent, a conversation in the one it
started, feedback and leads in the one they were left.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, String, and_, case, cast, func, literal, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased

from kb.db.base import DocumentRow
from kb.db.conversations import CitationRow, ConversationRow, MessageRow
from kb.db.feedback import FeedbackRow
from kb.db.leads import LeadRow


@dataclass(frozen=True)
class Period:
    """``[start, end)``, both converted to UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", _utc(self.start))
        object.__setattr__(self, "end", _utc(self.end))


@dataclass(frozen=True)
class Totals:
    """The counts of a period (or of one day of it)."""

    conversations: int = 0
    handoffs: int = 0
    messages: int = 0
    questions: int = 0  # user messages
    answers: int = 0  # bot messages
    answered: int = 0  # bot messages grounded in the knowledge base
    not_found: int = 0  # bot messages the knowledge base could not answer
    visitors: int = 0  # distinct users who sent or received a message
    feedback_up: int = 0
    feedback_down: int = 0
    leads: int = 0


@dataclass(frozen=True)
class Latency:
    """Answer latency percentiles (nearest rank) over the bot messages that recorded one."""

    count: int = 0
    p50_ms: int | None = None
    p95_ms: int | None = None


@dataclass(frozen=True)
class RawFigures:
    """What the database says about a period, before questions are grouped by meaning."""

    totals: Totals
    latency: Latency
    days: dict[str, Totals] = field(default_factory=dict)  # "YYYY-MM-DD" (UTC) -> counts
    citations: Counter[str] = field(default_factory=Counter)  # document id -> messages citing
    documents: dict[str, str] = field(default_factory=dict)  # document id -> title
    questions: list[tuple[str, int]] = field(default_factory=list)  # most asked first
    unanswered: list[tuple[str, int]] = field(default_factory=list)
    distinct_questions: int = 0
    distinct_unanswered: int = 0


@dataclass(frozen=True)
class _Bounds:
    """A period's bounds as the database compares them."""

    start: datetime
    end: datetime


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _day(connection: Connection, column: Any) -> ColumnElement[str]:
    """The UTC day of a timestamp column, as ``YYYY-MM-DD``."""
    if connection.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(cast(column, String), 1, 10)  # SQLite stores "YYYY-MM-DD HH:MM:SS"


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


class AnalyticsQueries:
    """The SQL side of the analytics report."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def raw(self, kb_id: str, period: Period, max_questions: int) -> RawFigures:
        """Every figure of ``kb_id`` over ``period``; the ``max_questions`` most asked distinct
        questions (and unanswered ones) with their counts."""
        bounds = _Bounds(period.start, period.end)
        if self._engine.dialect.name == "sqlite":
            # SQLite compares the stored UTC timestamps as text: bounds go without an offset.
            bounds = _Bounds(period.start.replace(tzinfo=None), period.end.replace(tzinfo=None))
        with self._engine.connect() as connection:
            days = self._days(connection, kb_id, bounds)
            totals = _sum(days.values())
            active = select(MessageRow.conversation_id).where(
                MessageRow.kb_id == kb_id, *_within(MessageRow.created_at, bounds)
            )
            visitors = connection.scalar(
                select(func.count(func.distinct(ConversationRow.user_id))).where(
                    ConversationRow.kb_id == kb_id, ConversationRow.id.in_(active)
                )
            )
            asked, not_found = self._questions(connection, kb_id, bounds)
            return RawFigures(
                totals=Totals(**{**totals.__dict__, "visitors": visitors or 0}),
                latency=self._latency(connection, kb_id, bounds),
                days=days,
                citations=self._citations(connection, kb_id, bounds),
                documents=self._documents(connection, kb_id),
                questions=_most_common(asked, max_questions),
                unanswered=_most_common(not_found, max_questions),
                distinct_questions=len(asked),
                distinct_unanswered=len(not_found),
            )

    def _days(self, connection: Connection, kb_id: str, period: _Bounds) -> dict[str, Totals]:
        days: dict[str, dict[str, int]] = {}

        def add(query: Any, names: tuple[str, ...]) -> None:
            for day, *values in connection.execute(query).all():
                counts = days.setdefault(day, {})
                for name, value in zip(names, values, strict=True):
                    counts[name] = int(value or 0)

        conv_day = _day(connection, ConversationRow.created_at)
        add(
            select(conv_day, func.count(), _count_if(ConversationRow.handoff_at.is_not(None)))
            .where(ConversationRow.kb_id == kb_id, *_within(ConversationRow.created_at, period))
            .group_by(conv_day),
            ("conversations", "handoffs"),
        )
        msg_day = _day(connection, MessageRow.created_at)
        bot = MessageRow.role == "bot"
        add(
            select(
                msg_day,
                func.count(),
                _count_if(MessageRow.role == "user"),
                _count_if(bot),
                _count_if(and_(bot, MessageRow.grounded == literal(True, Boolean))),
                _count_if(and_(bot, MessageRow.grounded == literal(False, Boolean))),
            )
            .where(MessageRow.kb_id == kb_id, *_within(MessageRow.created_at, period))
            .group_by(msg_day),
            ("messages", "questions", "answers", "answered", "not_found"),
        )
        fb_day = _day(connection, FeedbackRow.created_at)
        add(
            select(fb_day, _count_if(FeedbackRow.rating > 0), _count_if(FeedbackRow.rating < 0))
            .where(FeedbackRow.kb_id == kb_id, *_within(FeedbackRow.created_at, period))
            .group_by(fb_day),
            ("feedback_up", "feedback_down"),
        )
        lead_day = _day(connection, LeadRow.created_at)
        add(
            select(lead_day, func.count())
            .where(LeadRow.kb_id == kb_id, *_within(LeadRow.created_at, period))
            .group_by(lead_day),
            ("leads",),
        )
        return {day: Totals(**counts) for day, counts in sorted(days.items())}

    def _latency(self, connection: Connection, kb_id: str, period: _Bounds) -> Latency:
        latency = MessageRow.latency_ms
        # A histogram (a few thousand distinct values) costs less to fetch than every value.
        histogram = connection.execute(
            select(latency, func.count())
            .where(
                MessageRow.kb_id == kb_id,
                MessageRow.role == "bot",
                latency.is_not(None),
                *_within(MessageRow.created_at, period),
            )
            .group_by(latency)
            .order_by(latency)
        ).all()
        count = sum(n for _, n in histogram)
        if not count:
            return Latency()

        def rank(q: float) -> int:
            # Nearest rank: the smallest value with at least q of the values at or below it.
            wanted, seen = max(math.ceil(q * count), 1), 0
            for value, n in histogram:
                seen += n
                if seen >= wanted:
                    return int(value or 0)  # never None: NULLs are not counted
            return int(histogram[-1][0] or 0)

        return Latency(count, rank(0.5), rank(0.95))

    def _citations(self, connection: Connection, kb_id: str, period: _Bounds) -> Counter[str]:
        """Per document, how many bot messages of the period cite it."""
        query = (
            select(CitationRow.document_id, func.count())
            .where(CitationRow.kb_id == kb_id, *_within(CitationRow.created_at, period))
            .group_by(CitationRow.document_id)
        )
        return Counter({doc_id: int(count) for doc_id, count in connection.execute(query)})

    @staticmethod
    def _documents(connection: Connection, kb_id: str) -> dict[str, str]:
        rows = connection.execute(
            select(DocumentRow.id, DocumentRow.title).where(DocumentRow.kb_id == kb_id)
        )
        return {doc_id: title for doc_id, title in rows}

    @staticmethod
    def _questions(
        connection: Connection, kb_id: str, period: _Bounds
    ) -> tuple[Counter[str], Counter[str]]:
        """How often each question (history resolved) was asked, and how often it was not
        found: the message just before a bot message with ``grounded`` false, when it is the
        visitor's (grouped in SQL: a few thousand rows come back, not every message)."""
        asked = func.coalesce(MessageRow.standalone_question, MessageRow.text)
        questions = connection.execute(
            select(asked, func.count())
            .where(
                MessageRow.kb_id == kb_id,
                MessageRow.role == "user",
                *_within(MessageRow.created_at, period),
            )
            .group_by(asked)
        ).all()
        bot, before = aliased(MessageRow), aliased(MessageRow)
        previous = (
            select(func.max(before.seq))
            .where(before.conversation_id == bot.conversation_id, before.seq < bot.seq)
            .scalar_subquery()
        )
        unanswered = connection.execute(
            select(asked, func.count())
            .select_from(bot)
            .join(MessageRow, MessageRow.seq == previous)
            .where(
                bot.kb_id == kb_id,
                bot.role == "bot",
                bot.grounded == literal(False, Boolean),
                MessageRow.role == "user",
                *_within(bot.created_at, period),
            )
            .group_by(asked)
        ).all()
        return (
            Counter({text: int(n) for text, n in questions}),
            Counter({text: int(n) for text, n in unanswered}),
        )


def _most_common(counts: Counter[str], limit: int) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit]


def _within(column: Any, period: _Bounds) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return column >= period.start, column < period.end


def _sum(days: Any) -> Totals:
    names = Totals.__dataclass_fields__
    totals = dict.fromkeys(names, 0)
    for day in days:
        for name in names:
            totals[name] += getattr(day, name)
    return Totals(**totals)
