"""The analytics report of a knowledge base: the stored figures (``kb.db.analytics``), rates,
rankings, a time series per bucket, and the questions grouped by meaning.

Questions are grouped in two steps: texts equal once case, spacing and punctuation are ignored
are merged, then the most asked of them are embedded with the knowledge base's own embedding
model and clustered greedily: most asked first, each joins the first topic whose leading
question is similar enough (``cosine_threshold``), or starts a new one. Vectors are cached by
text, so a dashboard refreshed every minute embeds only the questions that are new.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np

from kb.db.analytics import AnalyticsQueries, Latency, Period, RawFigures, Totals
from kb.db.registry import Registry
from kb.embeddings.base import Embedder
from kb.errors import InvalidInput, KnowledgeBaseNotFound

Granularity = Literal["day", "week", "month"]
MAX_BUCKETS = 1000
EXAMPLES = 5
_PUNCT = re.compile(r"[^\w]+")


@dataclass(frozen=True)
class Topic:
    """Questions of one meaning: how often they were asked, the leading one and examples."""

    question: str
    count: int
    examples: tuple[str, ...]
    distinct: int


@dataclass(frozen=True)
class DocumentCount:
    """A document and how many answers of the period cite it."""

    document_id: str
    title: str
    citations: int


@dataclass(frozen=True)
class Bucket:
    """The counts of one day, week (from Monday) or month of the period, in UTC."""

    start: date
    totals: Totals


@dataclass(frozen=True)
class Report:
    """Everything the analytics endpoint returns."""

    kb_id: str
    period: Period
    granularity: Granularity
    totals: Totals
    latency: Latency
    most_cited: list[DocumentCount]
    never_cited: list[DocumentCount]
    never_cited_total: int
    top_questions: list[Topic]
    top_unanswered: list[Topic]
    distinct_questions: int
    distinct_unanswered: int
    series: list[Bucket] = field(default_factory=list)

    @property
    def answered_rate(self) -> float | None:
        """Answers grounded in the knowledge base, of the answers that say either way."""
        judged = self.totals.answered + self.totals.not_found
        return self.totals.answered / judged if judged else None

    @property
    def not_found_rate(self) -> float | None:
        """Answers the knowledge base could not give, of the answers that say either way."""
        judged = self.totals.answered + self.totals.not_found
        return self.totals.not_found / judged if judged else None

    @property
    def handoff_rate(self) -> float | None:
        """Conversations of the period handed to a person, of those started in it."""
        started = self.totals.conversations
        return self.totals.handoffs / started if started else None

    @property
    def feedback_score(self) -> float | None:
        """Thumbs up, of all the thumbs left in the period."""
        rated = self.totals.feedback_up + self.totals.feedback_down
        return self.totals.feedback_up / rated if rated else None


def normalize_question(text: str) -> str:
    """The form two questions are equal in: case, spacing and punctuation ignored."""
    return " ".join(_PUNCT.sub(" ", text.casefold()).split())


def cosine_threshold(relative: float, floor: float) -> float:
    """The cosine a question needs to join a topic: ``relative`` of the way from the model's
    relevance floor (unrelated texts sit near it) to 1; models differ in where their cosines
    sit (MiniLM's unrelated questions near 0.1, multilingual-e5-small's near 0.8)."""
    return floor + (1 - floor) * relative


def bucket_start(day: date, granularity: Granularity) -> date:
    """The first day of the bucket ``day`` falls in."""
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def buckets(period: Period, granularity: Granularity) -> list[date]:
    """Every bucket start of the period, in order (InvalidInput over ``MAX_BUCKETS``)."""
    last = (period.end - timedelta(microseconds=1)).date()
    current = bucket_start(period.start.date(), granularity)
    found: list[date] = []
    while current <= last:
        found.append(current)
        if len(found) > MAX_BUCKETS:
            raise InvalidInput(f"The period holds more than {MAX_BUCKETS} {granularity}s.")
        if granularity == "month":
            current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            current += timedelta(days=7 if granularity == "week" else 1)
    return found


def cluster(
    questions: Sequence[tuple[str, int]], vectors: Sequence[Sequence[float]], threshold: float
) -> list[Topic]:
    """Greedy clustering of ``questions`` (text, count; most asked first) by their unit
    ``vectors``: topics, most asked first."""
    matrix = np.asarray(vectors, dtype=np.float32).reshape(len(questions), -1)
    leaders: list[int] = []  # row of each topic's leading question
    members: list[list[tuple[str, int]]] = []
    for row, (text, count) in enumerate(questions):
        if leaders:
            similarity = matrix[leaders] @ matrix[row]
            best = int(np.argmax(similarity >= threshold))  # the first similar enough
            if similarity[best] >= threshold:
                members[best].append((text, count))
                continue
        leaders.append(row)
        members.append([(text, count)])
    topics = [
        Topic(
            question=group[0][0],
            count=sum(count for _, count in group),
            examples=tuple(text for text, _ in group[:EXAMPLES]),
            distinct=len(group),
        )
        for group in members
    ]
    return sorted(topics, key=lambda t: (-t.count, t.question))


def merge_equal(questions: Sequence[tuple[str, int]]) -> list[tuple[str, int]]:
    """Questions equal once normalised merged (the most asked form named), most asked first."""
    merged: dict[str, tuple[str, int, int]] = {}  # key -> (form, its count, total)
    for text, count in questions:
        key = normalize_question(text) or text
        form, best, total = merged.get(key, (text, 0, 0))
        merged[key] = (text, count, total + count) if count > best else (form, best, total + count)
    pairs = [(form, total) for form, _, total in merged.values()]
    return sorted(pairs, key=lambda p: (-p[1], p[0]))


class VectorCache:
    """Question vectors by model and text, the least recently used dropped past ``size``."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._vectors: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget every vector (and so every question text held)."""
        with self._lock:
            self._vectors.clear()

    def embed(self, embedder: Embedder, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of ``texts``, embedding only those not cached."""
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (embedder.name, t) not in self._vectors]
        fresh = embedder.embed(missing, kind="query") if missing else []
        with self._lock:
            for text, vector in zip(missing, fresh, strict=True):
                self._vectors[(embedder.name, text)] = vector
            found = []
            for text in texts:
                self._vectors.move_to_end((embedder.name, text))
                found.append(self._vectors[(embedder.name, text)])
            while len(self._vectors) > self._size:
                self._vectors.popitem(last=False)
        return found


class AnalyticsService:
    """Builds the analytics report of a knowledge base over a period."""

    def __init__(
        self,
        queries: AnalyticsQueries,
        registry: Registry,
        embedder_of: Callable[[str], tuple[Embedder, float]],
        max_questions: int = 300,
        threshold: float = 0.65,
        top: int = 10,
    ) -> None:
        self._queries = queries
        self._registry = registry
        # A knowledge base's own embedding model, and that model's relevance floor.
        self._embedder_of = embedder_of
        self._max_questions = max_questions
        self._threshold = threshold
        self._top = top
        self._cache = VectorCache()

    def report(self, kb_ref: str, period: Period, granularity: Granularity = "day") -> Report:
        """The report of the knowledge base (id or name) over ``period`` (InvalidInput for an
        empty period, KnowledgeBaseNotFound)."""
        kb_id = self.resolve(kb_ref)
        if period.end <= period.start:
            raise InvalidInput("'to' must come after 'from'.")
        starts = buckets(period, granularity)
        raw = self._queries.raw(kb_id, period, self._max_questions)
        most, never = self._documents(raw)
        return Report(
            kb_id=kb_id,
            period=period,
            granularity=granularity,
            totals=raw.totals,
            latency=raw.latency,
            most_cited=most[: self._top],
            never_cited=never[: self._top],
            never_cited_total=len(never),
            top_questions=self._topics(kb_id, raw.questions),
            top_unanswered=self._topics(kb_id, raw.unanswered),
            distinct_questions=raw.distinct_questions,
            distinct_unanswered=raw.distinct_unanswered,
            series=_series(raw, starts, granularity),
        )

    def forget_questions(self) -> None:
        """Drop the cached question vectors, keyed by the questions' text (after an erasure)."""
        self._cache.clear()

    def resolve(self, kb_ref: str) -> str:
        """The id of the knowledge base with this id or name (KnowledgeBaseNotFound)."""
        found = self._registry.find_kb(kb_ref, counts=False)
        if found is None:
            raise KnowledgeBaseNotFound(f"No knowledge base with id or name {kb_ref!r}.")
        return found.id

    def _documents(self, raw: RawFigures) -> tuple[list[DocumentCount], list[DocumentCount]]:
        cited = [
            DocumentCount(doc_id, raw.documents.get(doc_id, ""), count)
            for doc_id, count in raw.citations.items()
        ]
        cited.sort(key=lambda d: (-d.citations, d.title, d.document_id))
        never = [
            DocumentCount(doc_id, title, 0)
            for doc_id, title in raw.documents.items()
            if doc_id not in raw.citations
        ]
        never.sort(key=lambda d: (d.title, d.document_id))
        return cited, never

    def _topics(self, kb_id: str, questions: list[tuple[str, int]]) -> list[Topic]:
        merged = merge_equal(questions)
        if not merged:
            return []
        embedder, floor = self._embedder_of(kb_id)
        vectors = self._cache.embed(embedder, [text for text, _ in merged])
        return cluster(merged, vectors, cosine_threshold(self._threshold, floor))[: self._top]


def _series(raw: RawFigures, starts: list[date], granularity: Granularity) -> list[Bucket]:
    counts: dict[date, dict[str, int]] = {start: {} for start in starts}
    for day, totals in raw.days.items():
        start = bucket_start(datetime.strptime(day, "%Y-%m-%d").date(), granularity)
        into = counts.setdefault(start, {})
        for name, value in totals.__dict__.items():
            into[name] = into.get(name, 0) + value
    return [Bucket(start, Totals(**values)) for start, values in sorted(counts.items())]
