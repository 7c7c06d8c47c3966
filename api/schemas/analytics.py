"""Response bodies of the analytics report and of a user's data export and erasure."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from engine.analytics import DocumentCount, Report, Topic
from engine.user_data import Erasure
from kb.db.analytics import Totals


class CountsOut(BaseModel):
    """Counts of a period or of one bucket of it."""

    conversations: int = Field(description="Conversations started.")
    handoffs: int = Field(description="Of those, conversations handed to a person.")
    messages: int = Field(description="Messages sent (visitor, bot and agent).")
    questions: int = Field(description="Visitors' messages.")
    answers: int = Field(description="Bot messages.")
    answered: int = Field(description="Bot messages grounded in the knowledge base.")
    not_found: int = Field(description="Bot messages the knowledge base could not answer.")
    feedback_up: int
    feedback_down: int
    leads: int

    @classmethod
    def of(cls, totals: Totals) -> CountsOut:
        """From the domain model."""
        return cls(**{name: getattr(totals, name) for name in cls.model_fields})


class TotalsOut(CountsOut):
    """The period's counts, with its distinct visitors."""

    visitors: int = Field(description="Distinct users who sent or received a message.")

    @classmethod
    def of(cls, totals: Totals) -> TotalsOut:
        """From the domain model."""
        return cls(**{name: getattr(totals, name) for name in cls.model_fields})


class RatesOut(BaseModel):
    """Shares between 0 and 1; null when there is nothing to divide by."""

    answered: float | None = Field(description="answered / (answered + not_found).")
    not_found: float | None = Field(description="not_found / (answered + not_found).")
    handoff: float | None = Field(description="handoffs / conversations.")


class FeedbackScoreOut(BaseModel):
    """Thumbs left in the period."""

    up: int
    down: int
    score: float | None = Field(description="up / (up + down); null without feedback.")


class LatencyOut(BaseModel):
    """Answer latency (message received to answer complete), nearest-rank percentiles."""

    count: int = Field(description="Answers that recorded their latency.")
    p50_ms: int | None
    p95_ms: int | None


class CitedDocumentOut(BaseModel):
    """A document and how many answers of the period cite it."""

    document_id: str
    title: str
    citations: int

    @classmethod
    def of(cls, document: DocumentCount) -> CitedDocumentOut:
        """From the domain model."""
        return cls.model_validate(document, from_attributes=True)


class TopicOut(BaseModel):
    """Questions of one meaning (grouped by embedding similarity)."""

    question: str = Field(description="The most asked question of the group.")
    count: int = Field(description="How often the group's questions were asked.")
    distinct: int = Field(description="Distinct questions in the group.")
    examples: list[str] = Field(description="Up to 5 of them, most asked first.")

    @classmethod
    def of(cls, topic: Topic) -> TopicOut:
        """From the domain model."""
        return cls(
            question=topic.question,
            count=topic.count,
            distinct=topic.distinct,
            examples=list(topic.examples),
        )


class BucketOut(BaseModel):
    """One day, week (from Monday) or month of the period, in UTC."""

    start: date
    counts: CountsOut


class AnalyticsOut(BaseModel):
    """The analytics report of a knowledge base over a period."""

    kb_id: str
    start: datetime = Field(alias="from", serialization_alias="from")
    end: datetime = Field(alias="to", serialization_alias="to")
    granularity: Literal["day", "week", "month"]
    totals: TotalsOut
    rates: RatesOut
    feedback: FeedbackScoreOut
    latency: LatencyOut
    most_cited_documents: list[CitedDocumentOut]
    never_cited_documents: list[CitedDocumentOut]
    never_cited_total: int = Field(description="Documents no answer of the period cites.")
    top_questions: list[TopicOut]
    top_unanswered_questions: list[TopicOut] = Field(
        description="Questions the knowledge base could not answer, grouped: what to add."
    )
    distinct_questions: int
    distinct_unanswered_questions: int
    series: list[BucketOut]

    @classmethod
    def of(cls, report: Report) -> AnalyticsOut:
        """From the domain model."""
        totals = report.totals
        return cls.model_validate(
            {
                "kb_id": report.kb_id,
                "from": report.period.start,
                "to": report.period.end,
                "granularity": report.granularity,
                "totals": TotalsOut.of(totals),
                "rates": RatesOut(
                    answered=report.answered_rate,
                    not_found=report.not_found_rate,
                    handoff=report.handoff_rate,
                ),
                "feedback": FeedbackScoreOut(
                    up=totals.feedback_up, down=totals.feedback_down, score=report.feedback_score
                ),
                "latency": LatencyOut(**vars(report.latency)),
                "most_cited_documents": [CitedDocumentOut.of(d) for d in report.most_cited],
                "never_cited_documents": [CitedDocumentOut.of(d) for d in report.never_cited],
                "never_cited_total": report.never_cited_total,
                "top_questions": [TopicOut.of(t) for t in report.top_questions],
                "top_unanswered_questions": [TopicOut.of(t) for t in report.top_unanswered],
                "distinct_questions": report.distinct_questions,
                "distinct_unanswered_questions": report.distinct_unanswered,
                "series": [
                    BucketOut(start=b.start, counts=CountsOut.of(b.totals)) for b in report.series
                ],
            }
        )


class UserExportOut(BaseModel):
    """Everything held about a user: the rows of every table that names them."""

    user_id: str
    exported_at: datetime
    knowledge_bases: list[str] | None = Field(
        description="The knowledge bases exported; null: all of them."
    )
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="Per table (conversations, conversation_messages, message_feedback, "
        "leads, user_profiles, conversation_events, webhook_deliveries...), its rows."
    )


class ErasureOut(BaseModel):
    """What erasing a user deleted."""

    user: str = Field(description="What the audit log keeps of the user id (a hash).")
    deleted: dict[str, int] = Field(description="Rows deleted per table.")
    total: int

    @classmethod
    def of(cls, erasure: Erasure) -> ErasureOut:
        """From the domain model."""
        return cls(user=erasure.user_digest, deleted=erasure.deleted, total=erasure.total)
