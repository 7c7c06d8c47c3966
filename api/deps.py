"""FastAPI dependencies: every ``Annotated[..., Depends()]`` alias routes and guards take their
collaborators through: the services of the container the app was created with, the caller's
key, and the shared query parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from api.container import Container
from api.webhooks.service import WebhookService
from engine.analytics import AnalyticsService
from engine.answer import QueryService
from engine.conversation import ConversationService
from engine.exports import ConversationExporter
from engine.handoff.service import HandoffService
from engine.leads import LeadService
from engine.retrieval.retriever import Retriever
from engine.user_data import UserDataService
from ingest.crawl import CrawlService
from ingest.pipeline.queued import QueuedUploads
from ingest.pipeline.service import IngestionService
from kb.access.grants import Grants
from kb.access.keys import KeyRepository
from kb.access.models import ApiKey
from kb.access.oauth import OAuthService
from kb.catalog import Catalog
from kb.db.audit import AuditLog
from kb.db.feedback import FeedbackRepository
from kb.db.widgets import WidgetRepository
from kb.errors import Forbidden, KnowledgeBaseNotFound, ValidationFailed
from kb.jobs import Jobs
from kb.settings import Settings
from kb.webhooks.models import DeliveryStatus


def get_container(request: Request) -> Container:
    """The container handed to create_app."""
    container: Container = request.app.state.container
    return container


def caller(request: Request) -> ApiKey | None:
    """The key or token the request was authenticated with (None when auth is off)."""
    # Set by the router's `api.auth.require` dependency, which FastAPI runs before route
    # dependencies.
    key: ApiKey | None = getattr(request.state, "api_key", None)
    return key


CallerDep = Annotated[ApiKey | None, Depends(caller)]


def reachable_kbs(key: CallerDep) -> frozenset[str] | None:
    """The knowledge bases the caller may list; None means all."""
    return None if key is None or key.kb_ids is None else frozenset(key.kb_ids)


def profile_kb(
    request: Request,
    key: CallerDep,
    kb_id: Annotated[
        str | None,
        Query(
            max_length=200,
            description="The knowledge base whose user this is (id or name); may be left out "
            "with a key restricted to exactly one.",
        ),
    ] = None,
) -> str:
    """The id of the knowledge base a profile route works in: profiles belong to one."""
    ref = kb_id
    if ref is None and key is not None and key.kb_ids is not None and len(key.kb_ids) == 1:
        ref = key.kb_ids[0]
    if ref is None:
        raise ValidationFailed(
            "A profile belongs to a knowledge base: name it with ?kb_id= (a key restricted to "
            "one knowledge base may leave it out)."
        )
    found = get_container(request).catalog.resolve_kb(ref)
    if key is not None and not key.may_reach(found.id if found else ref):
        raise Forbidden("This API key may not reach that knowledge base.")
    if found is None:
        raise KnowledgeBaseNotFound(f"No knowledge base with id or name {ref!r}.")
    return found.id


def user_scope(
    request: Request,
    reachable: Annotated[frozenset[str] | None, Depends(reachable_kbs)],
    kb_id: Annotated[
        str | None,
        Query(max_length=200, description="Only this knowledge base (id or name); default: all."),
    ] = None,
) -> frozenset[str] | None:
    """The knowledge bases a user's data is exported or erased in: ``kb_id``'s, else those the
    caller reaches (None: all)."""
    if kb_id is None:
        return reachable
    found = get_container(request).catalog.resolve_kb(kb_id)
    if reachable is not None and (found is None or found.id not in reachable):
        raise Forbidden("This API key may not reach that knowledge base.")
    if found is None:
        raise KnowledgeBaseNotFound(f"No knowledge base with id or name {kb_id!r}.")
    return frozenset({found.id})


def _catalog(request: Request) -> Catalog:
    return get_container(request).catalog


def _ingestion(request: Request) -> IngestionService:
    return get_container(request).ingestion


def _retriever(request: Request) -> Retriever:
    return get_container(request).retriever


def _queries(request: Request) -> QueryService:
    return get_container(request).queries


def _conversations(request: Request) -> ConversationService:
    return get_container(request).conversations


def _leads(request: Request) -> LeadService:
    return get_container(request).leads


def _handoff(request: Request) -> HandoffService:
    return get_container(request).handoff


def _feedback(request: Request) -> FeedbackRepository:
    return get_container(request).data.feedback


def _analytics(request: Request) -> AnalyticsService:
    return get_container(request).data.analytics


def _user_data(request: Request) -> UserDataService:
    return get_container(request).data.user_data


def _exporter(request: Request) -> ConversationExporter:
    return get_container(request).data.exporter


def _crawls(request: Request) -> CrawlService:
    return get_container(request).crawls


def _jobs(request: Request) -> Jobs:
    return get_container(request).background.jobs


def _uploads(request: Request) -> QueuedUploads:
    return get_container(request).background.uploads


def _keys(request: Request) -> KeyRepository:
    return get_container(request).keys


def _grants(request: Request) -> Grants:
    return get_container(request).grants


def _oauth(request: Request) -> OAuthService:
    return get_container(request).oauth


def _webhooks(request: Request) -> WebhookService:
    return get_container(request).webhooks


def _audit(request: Request) -> AuditLog:
    return get_container(request).audit


def _widgets(request: Request) -> WidgetRepository:
    return get_container(request).widgets


def _settings(request: Request) -> Settings:
    return get_container(request).settings


ContainerDep = Annotated[Container, Depends(get_container)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
IngestionDep = Annotated[IngestionService, Depends(_ingestion)]
RetrieverDep = Annotated[Retriever, Depends(_retriever)]
QueriesDep = Annotated[QueryService, Depends(_queries)]
ConversationsDep = Annotated[ConversationService, Depends(_conversations)]
FeedbackDep = Annotated[FeedbackRepository, Depends(_feedback)]
AnalyticsDep = Annotated[AnalyticsService, Depends(_analytics)]
UserDataDep = Annotated[UserDataService, Depends(_user_data)]
ExporterDep = Annotated[ConversationExporter, Depends(_exporter)]
UserScopeDep = Annotated[frozenset[str] | None, Depends(user_scope)]
LeadsDep = Annotated[LeadService, Depends(_leads)]
HandoffDep = Annotated[HandoffService, Depends(_handoff)]
CrawlsDep = Annotated[CrawlService, Depends(_crawls)]
JobsDep = Annotated[Jobs, Depends(_jobs)]
UploadsDep = Annotated[QueuedUploads, Depends(_uploads)]
KeysDep = Annotated[KeyRepository, Depends(_keys)]
GrantsDep = Annotated[Grants, Depends(_grants)]
OAuthDep = Annotated[OAuthService, Depends(_oauth)]
WebhooksDep = Annotated[WebhookService, Depends(_webhooks)]
AuditDep = Annotated[AuditLog, Depends(_audit)]
SettingsDep = Annotated[Settings, Depends(_settings)]
WidgetsDep = Annotated[WidgetRepository, Depends(_widgets)]
ReachableKbsDep = Annotated[frozenset[str] | None, Depends(reachable_kbs)]
ProfileKbDep = Annotated[str, Depends(profile_kb)]

LimitDep = Annotated[int, Query(ge=1, le=1000, description="Page size.")]
OffsetDep = Annotated[int, Query(ge=0, description="Items to skip.")]
HistoryLimitDep = Annotated[int, Query(ge=1, le=200, description="Page size.")]
UserIdPath = Annotated[str, Path(min_length=1, max_length=200, description="The user's id.")]
DeliveryStatusDep = Annotated[
    DeliveryStatus | None, Query(alias="status", description="Only deliveries in this state.")
]
