"""The services over stored conversations, built from the settings: feedback, analytics,
exports, a user's data rights and retention (part of the composition root, ``api.container``)."""

from __future__ import annotations

from dataclasses import dataclass

from engine.analytics import AnalyticsService
from engine.exports import ConversationExporter
from engine.user_data import UserDataService
from kb.db.analytics import AnalyticsQueries
from kb.db.audit import AuditLog
from kb.db.feedback import FeedbackRepository
from kb.db.registry import Registry
from kb.db.retention import RetentionJob
from kb.embeddings.base import Embedder
from kb.index_models import IndexModels
from kb.runtime.events import EventBus
from kb.settings import Settings


@dataclass(frozen=True)
class ConversationData:
    """What is done with stored conversations besides answering them."""

    feedback: FeedbackRepository
    analytics: AnalyticsService
    exporter: ConversationExporter
    user_data: UserDataService
    # Deletes conversations past KB_PRIVACY__RETENTION_DAYS (a thread started with the app).
    retention: RetentionJob


def _embedder(indexes: IndexModels, kb_id: str) -> tuple[Embedder, float]:
    bound = indexes.bound(kb_id)
    return bound.embedder, bound.relevance_floor


def build_conversation_data(
    settings: Settings, registry: Registry, events: EventBus, indexes: IndexModels
) -> ConversationData:
    """The services for ``settings``; questions are grouped with each knowledge base's model."""
    engine = registry.engine
    privacy, options = settings.privacy, settings.analytics
    analytics = AnalyticsService(
        AnalyticsQueries(engine),
        registry,
        lambda kb_id: _embedder(indexes, kb_id),
        max_questions=options.max_questions,
        threshold=options.cluster_threshold,
        top=options.top,
    )
    return ConversationData(
        feedback=FeedbackRepository(engine, events, mask_pii=privacy.mask_pii),
        analytics=analytics,
        exporter=ConversationExporter(engine),
        user_data=UserDataService(engine, AuditLog(engine), analytics.forget_questions),
        retention=RetentionJob(engine, privacy.retention_days, privacy.retention_interval_s),
    )
