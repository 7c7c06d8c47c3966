"""The composition root: concrete services built from settings, handed to the app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from api.conversation_data import ConversationData, build_conversation_data
from api.distributed import (
    BackgroundWork,
    build_background,
    build_jobs,
    delivery_claims,
    events_to_outbox,
    shared_locks,
)
from api.webhooks.delivery import WebhookDispatcher
from api.webhooks.service import WebhookService
from engine.answer import QueryService
from engine.conversation import ConversationService
from engine.handoff.service import HandoffService
from engine.leads import LeadService
from engine.llms.registry import CREDENTIAL_PROVIDERS, ModelRegistry
from engine.quick_replies import QuickReplies
from engine.retrieval.rerank import CrossEncoderReranker
from engine.retrieval.retriever import RetrievalConfig, Retriever
from engine.rewrite import QuestionRewriter
from engine.verify.answerability import AnswerabilityCheck
from engine.verify.cross_encoder import CrossEncoderVerifier
from engine.verify.verdicts import Verifier
from engine.verify.verifier import HeuristicVerifier
from ingest.chunking import SentenceChunker
from ingest.crawl import CrawlDeps, CrawlService
from ingest.parsers.base import ParseLimits
from ingest.parsers.isolation import ParserPool
from ingest.pipeline.reindex import ReindexService
from ingest.pipeline.service import IngestionService
from kb.access.credentials import CredentialRepository
from kb.access.grants import Grants
from kb.access.keys import KeyRepository
from kb.access.oauth import OAuthClientRepository, OAuthService, signing_keys
from kb.access.secrets import SecretBox
from kb.access.sessions import SessionStore
from kb.catalog import Catalog
from kb.db.audit import AuditLog
from kb.db.bounds import StorageLimits
from kb.db.conversation_list import ConversationList
from kb.db.conversations import ConversationRepository
from kb.db.crawls import CrawlRepository
from kb.db.handoff import HandoffRepository
from kb.db.indexes import IndexRecords
from kb.db.leads import LeadRepository
from kb.db.profiles import ProfileRepository
from kb.db.registry import Registry
from kb.db.widgets import WidgetRepository
from kb.embeddings.base import Embedder, TokenizingEmbedder
from kb.embeddings.catalog import MINILM, EmbedderOptions
from kb.index.lexical import LexicalIndex, SqliteLexicalIndex
from kb.index.lexical_pg import PostgresLexicalIndex
from kb.index.vectors import ChromaStore, VectorStore
from kb.index_models import EmbedderPool, IndexModels
from kb.reconcile import Reconciler
from kb.runtime.events import EventBus
from kb.runtime.priority import Background
from kb.runtime.private_files import keep_private
from kb.settings import Settings
from kb.webhooks.repository import WebhookRepository


@dataclass
class Container:
    """Every service the API and CLI use."""

    settings: Settings
    registry: Registry
    store: VectorStore
    lexical: LexicalIndex
    catalog: Catalog
    # The configured model's embedder (the default of new knowledge bases; verification).
    embedder: TokenizingEmbedder
    ingestion: IngestionService
    retriever: Retriever
    models: ModelRegistry
    queries: QueryService
    crawls: CrawlService
    conversations: ConversationService
    keys: KeyRepository
    # Administrative actions: who did what, to what, and how it ended.
    audit: AuditLog
    # OAuth clients and the access tokens issued to them.
    oauth: OAuthService
    # New keys and OAuth clients, restricted to knowledge bases named by id or name.
    grants: Grants
    # Encrypts provider keys and webhook secrets at rest.
    secrets: SecretBox
    # What happened (ingestions, crawls, conversations, leads), told to webhook subscribers.
    events: EventBus
    webhooks: WebhookService
    webhook_dispatcher: WebhookDispatcher
    leads: LeadService
    # Conversations handed to people and back, and each knowledge base's handoff policy.
    handoff: HandoffService
    # Provider keys set over the API (encrypted by ``secrets``); they win over the environment's.
    credentials: CredentialRepository
    # Removes what an interrupted ingestion or deletion left in the indexes (start, `kb doctor`).
    reconciler: Reconciler
    # Each knowledge base's chat-widget settings.
    widgets: WidgetRepository
    # Each knowledge base's embedding model, and the loaded models they share.
    indexes: IndexModels
    # Re-indexing a knowledge base with another embedding model.
    reindex: ReindexService
    # Signed-in browsers of the web console (kb.access.sessions).
    sessions: SessionStore
    # Pages of conversations, filtered, for people reading them (the console).
    conversation_list: ConversationList
    # Feedback, analytics, exports, users' data rights and retention over stored conversations.
    data: ConversationData
    # Background jobs (threads here, or `kb worker` processes), the event outbox and the
    # schedule of periodic work (api.distributed).
    background: BackgroundWork

    def check_ready(self) -> str:
        """Raise unless the registry answers and the embedding model is loaded (loading it if
        needed); the model's name."""
        self.registry.list_kbs(1, 0)
        self.embedder.embed(["ready"])
        return self.embedder.name

    def close(self) -> None:
        """Release what the services hold."""
        self.crawls.shutdown()  # crawls write through the registry: stop them first
        self.background.close()  # the schedule, then jobs under way
        self.data.retention.stop()
        self.reindex.close()  # running jobs drop their new collections; old indexes stay
        self.ingestion.close()  # after the crawls, which ingest through it
        self.webhook_dispatcher.stop()  # after the crawls, whose last events are stored
        self.registry.close()
        self.lexical.close()
        self.store.close()


@dataclass(frozen=True)
class _Storage:
    """Where knowledge bases live: the registry, the lexical index and the vector store."""

    registry: Registry
    lexical: LexicalIndex
    store: VectorStore
    records: IndexRecords


@dataclass(frozen=True)
class _Answering:
    """Questions, conversations and the leads captured in them."""

    queries: QueryService
    conversations: ConversationService
    leads: LeadService
    handoff: HandoffService


@dataclass(frozen=True)
class _Access:
    """Who may call: API keys, OAuth clients and tokens, and the grants creating them."""

    keys: KeyRepository
    oauth: OAuthService
    grants: Grants


def build_container(
    settings: Settings | None = None,
    embedder: TokenizingEmbedder | None = None,
    embedders: EmbedderPool | None = None,
) -> Container:
    """Build the services for ``settings`` (environment settings when None).

    ``embedder`` (a loaded model) or ``embedders`` (a pool of them) let several containers
    share loaded models (tests, benchmarks).
    """
    settings = settings or Settings()
    keep_private(settings.storage.data_dir)  # owner-only, and all it will hold
    storage = _storage(settings)
    events = EventBus()
    pool = embedders or _embedder_pool(settings, embedder)
    embedder = pool.get(settings.embedding.model)
    # Releases before per-KB models recorded none; their default was MiniLM.
    explicit = "model" in settings.embedding.model_fields_set
    legacy = settings.embedding.model if explicit else MINILM
    indexes = IndexModels(
        storage.records, pool, storage.store, settings.embedding.model, legacy_model=legacy
    )
    ingestion = _ingestion(settings, storage, embedder, events, indexes)
    retriever = _retriever(settings, storage, embedder, indexes)
    secrets = _secrets(settings)
    credentials = CredentialRepository(storage.registry.engine, secrets, CREDENTIAL_PROVIDERS)
    # Claim checks and the extractive answerer's sentence ranking were calibrated with MiniLM:
    # they keep it whatever model the knowledge bases retrieve with.
    checking = pool.get(MINILM)
    models = _models(settings, checking, credentials)
    verifier = _verifier(settings, checking)
    abstention = AnswerabilityCheck(checking) if settings.answer.abstain else None
    answering = _answering(
        settings, storage.registry, retriever, models, events, verifier, abstention
    )
    catalog = Catalog(
        storage.registry,
        storage.store,
        storage.lexical,
        validate_model=models.validate,
        write_lock=ingestion.lock,
        indexes=indexes,
    )
    webhooks, dispatcher = _webhooks(settings, storage.registry, events, secrets)
    jobs = build_jobs(settings, storage.registry)
    crawls = CrawlService(_crawls(settings, storage.registry, ingestion, events), jobs)
    outbox = events_to_outbox(settings, storage.registry, events, dispatcher)
    reindex = ReindexService(
        storage.registry,
        indexes,
        storage.store,
        ingestion.lock,
        nice=settings.ingest.background_nice,
        jobs=jobs,
    )
    access = _access(settings, storage.registry, catalog)
    return Container(
        settings=settings,
        registry=storage.registry,
        store=storage.store,
        lexical=storage.lexical,
        catalog=catalog,
        embedder=embedder,
        ingestion=ingestion,
        retriever=retriever,
        models=models,
        queries=answering.queries,
        crawls=crawls,
        conversations=answering.conversations,
        keys=access.keys,
        audit=AuditLog(storage.registry.engine),
        oauth=access.oauth,
        grants=access.grants,
        secrets=secrets,
        events=events,
        webhooks=webhooks,
        webhook_dispatcher=dispatcher,
        leads=answering.leads,
        handoff=answering.handoff,
        credentials=credentials,
        reconciler=Reconciler(
            storage.registry, {"vectors": storage.store, "lexical": storage.lexical}, ingestion.lock
        ),
        widgets=WidgetRepository(storage.registry.engine),
        indexes=indexes,
        reindex=reindex,
        background=build_background(
            settings,
            storage.registry,
            jobs,
            outbox,
            dispatcher,
            crawls=crawls,
            reindex=reindex,
            ingestion=ingestion,
        ),
        sessions=SessionStore(
            storage.registry.engine,
            idle=timedelta(seconds=settings.console.session_idle_s),
            lifetime=timedelta(seconds=settings.console.session_max_s),
        ),
        conversation_list=ConversationList(storage.registry.engine),
        data=build_conversation_data(settings, storage.registry, events, indexes),
    )


def _storage(settings: Settings) -> _Storage:
    registry = Registry.from_settings(settings)
    records = IndexRecords(registry.engine)
    lexical: LexicalIndex = (
        # The registry's PostgreSQL holds the lexical index too: every replica searches it.
        PostgresLexicalIndex(registry.engine)
        if registry.engine.dialect.name == "postgresql"
        else SqliteLexicalIndex(settings.storage.data_dir / "lexical.sqlite3")
    )

    def active_collection(kb_id: str) -> str:
        found = records.get(kb_id)
        return found.collection if found is not None else kb_id

    token = settings.store.chroma_auth_token
    store = ChromaStore(
        path=settings.storage.data_dir / "chroma",
        host=settings.store.chroma_host,
        port=settings.store.chroma_port,
        ssl=settings.store.chroma_ssl,
        auth_token=token.get_secret_value() if token else None,
        texts=lexical,  # chunk texts live in the lexical index only
        resolve=active_collection,
    )
    return _Storage(registry, lexical, store, records)


def _embedder_pool(settings: Settings, loaded: TokenizingEmbedder | None) -> EmbedderPool:
    """Every model loaded once, by name (``loaded``: one already loaded)."""
    return EmbedderPool(EmbedderOptions.from_settings(settings), [loaded] if loaded else [])


def _chunker(settings: Settings, embedder: TokenizingEmbedder) -> SentenceChunker:
    """A chunker sized in ``embedder``'s tokens."""
    return SentenceChunker(
        settings.chunking.chunk_size,
        settings.chunking.chunk_overlap,
        embedder.count_tokens,
        embedder.word_tokens,
    )


def _ingestion(
    settings: Settings,
    storage: _Storage,
    embedder: TokenizingEmbedder,
    events: EventBus,
    indexes: IndexModels,
) -> IngestionService:
    chunker = _chunker(settings, embedder)
    limits = ParseLimits(
        max_pdf_pages=settings.ingest.max_pdf_pages,
        max_unzipped_bytes=settings.ingest.max_unzipped_bytes,
        max_text_chars=settings.ingest.max_text_chars,
        parse_timeout_s=settings.ingest.parse_timeout_s,
    )
    return IngestionService(
        storage.registry,
        storage.store,
        storage.lexical,
        embedder,
        chunker,
        ParserPool(nice=settings.ingest.background_nice),
        limits,
        settings.ingest.max_upload_bytes,
        events=events,
        background=Background(settings.ingest.background_nice, name="ingest"),
        indexes=indexes,
        chunker_for=lambda model: _chunker(settings, model),
        locks=shared_locks(settings, storage.registry),
    )


def _retriever(
    settings: Settings, storage: _Storage, embedder: TokenizingEmbedder, indexes: IndexModels
) -> Retriever:
    retrieval = settings.retrieval
    reranker = (
        CrossEncoderReranker(retrieval.rerank_model, retrieval.rerank_depth)
        if retrieval.rerank_model
        else None
    )
    config = RetrievalConfig(
        mode=retrieval.mode,
        fusion=retrieval.fusion,
        dense_weight=retrieval.dense_weight,
        # Unset: each knowledge base's model's own floor (E5's cosines sit far above MiniLM's).
        min_score=retrieval.min_score if "min_score" in retrieval.model_fields_set else None,
        min_term_coverage=retrieval.min_term_coverage,
        candidates=retrieval.candidates,
    )
    return Retriever(
        storage.registry, storage.store, storage.lexical, embedder, config, reranker, indexes
    )


def _secrets(settings: Settings) -> SecretBox:
    encryption_keys = settings.security.encryption_keys
    return SecretBox.from_settings(
        encryption_keys.get_secret_value() if encryption_keys else None,
        settings.storage.data_dir,
    )


def _models(
    settings: Settings, embedder: TokenizingEmbedder, credentials: CredentialRepository
) -> ModelRegistry:
    return ModelRegistry(settings.llm, embedder, credentials.secret)


def _verifier(settings: Settings, embedder: Embedder) -> Verifier:
    """The claim verifier: a configured NLI cross-encoder, else the calibrated heuristic one."""
    if settings.answer.verifier_model is not None:
        return CrossEncoderVerifier(
            settings.answer.verifier_model, device=settings.embedding.device
        )
    return HeuristicVerifier(embedder)


def _answering(
    settings: Settings,
    registry: Registry,
    retriever: Retriever,
    models: ModelRegistry,
    events: EventBus,
    verifier: Verifier,
    abstention: AnswerabilityCheck | None,
) -> _Answering:
    queries = QueryService(
        registry,
        retriever,
        models,
        settings.llm.max_new_tokens,
        verifier=verifier,
        verification=settings.answer.verification,
        answerability=abstention,
    )
    limits = StorageLimits(
        messages_per_conversation=settings.chat.max_messages_per_conversation,
        events_per_conversation=settings.chat.max_events_per_conversation,
        conversations_per_user=settings.chat.max_conversations_per_user,
        leads_per_conversation=settings.chat.max_leads_per_conversation,
        bytes_per_conversation=settings.chat.max_conversation_bytes,
    )
    history = ConversationRepository(registry.engine, limits, mask_pii=settings.privacy.mask_pii)
    profiles = ProfileRepository(registry.engine)
    handoff = HandoffService(HandoffRepository(registry.engine), history, profiles, events)
    conversations = ConversationService(
        history,
        profiles,
        registry,
        queries,
        QuestionRewriter(models, use_llm=settings.chat.llm_rewrite),
        history_messages=settings.chat.history_messages,
        events=events,
        handoff=handoff,
        quick_replies=_quick_replies(registry, handoff),
    )
    leads = LeadService(LeadRepository(registry.engine, events, limits), history, registry)
    return _Answering(queries, conversations, leads, handoff)


def _quick_replies(registry: Registry, handoff: HandoffService) -> QuickReplies:
    """Refusals offer the knowledge base's suggested questions (its widget settings), and a
    person when its handoff is on."""
    widgets = WidgetRepository(registry.engine)

    def suggestions(kb_id: str) -> list[str]:
        return [str(text) for text in widgets.get(kb_id)[0].get("suggestions") or []]

    return QuickReplies(suggestions, lambda kb_id: handoff.policy(kb_id).enabled)


def _crawls(
    settings: Settings, registry: Registry, ingestion: IngestionService, events: EventBus
) -> CrawlDeps:
    return CrawlDeps(
        ingestion,
        registry,
        CrawlRepository(registry.engine),
        settings.crawl,
        settings.ingest.max_upload_bytes,
        events=events,
    )


def _access(settings: Settings, registry: Registry, catalog: Catalog) -> _Access:
    grace = timedelta(seconds=settings.security.key_grace_period_s)
    keys = KeyRepository(registry.engine, grace)
    oauth = _oauth(settings, registry)
    return _Access(keys, oauth, Grants(keys, oauth.clients, catalog.resolve_kb_ids))


def _webhooks(
    settings: Settings, registry: Registry, events: EventBus, box: SecretBox
) -> tuple[WebhookService, WebhookDispatcher]:
    repository = WebhookRepository(registry.engine, box)
    # Embedded, each event's deliveries are stored at once (api.distributed.events_to_outbox).
    dispatcher = WebhookDispatcher(
        repository, settings.webhook, claim=delivery_claims(settings, registry)
    )
    return WebhookService(repository, dispatcher, settings.webhook), dispatcher


def _oauth(settings: Settings, registry: Registry) -> OAuthService:
    configured = settings.security.token_signing_key
    keys = signing_keys(
        configured.get_secret_value() if configured else None, settings.storage.data_dir
    )
    return OAuthService(OAuthClientRepository(registry.engine), keys, settings.security.token_ttl_s)
