"""The composition root: concrete services built from settings, handed to the app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from api.webhooks.delivery import WebhookDispatcher
from api.webhooks.service import WebhookService
from engine.answer import QueryService
from engine.conversation import ConversationService
from engine.llms.registry import ModelRegistry
from engine.retrieval.rerank import CrossEncoderReranker
from engine.retrieval.retriever import RetrievalConfig, Retriever
from engine.rewrite import QuestionRewriter
from ingest.chunking import SentenceChunker
from ingest.crawl import CrawlDeps, CrawlService
from ingest.parsers.base import ParseLimits
from ingest.parsers.registry import parse_bytes
from ingest.pipeline.service import IngestionService
from kb.access.credentials import CredentialRepository
from kb.access.keys import KeyRepository
from kb.access.oauth import OAuthClientRepository, OAuthService, signing_keys
from kb.access.secrets import SecretBox
from kb.catalog import Catalog
from kb.db.audit import AuditLog
from kb.db.conversations import ConversationRepository
from kb.db.crawls import CrawlRepository
from kb.db.leads import LeadRepository
from kb.db.registry import Registry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.index.lexical import LexicalIndex, SqliteLexicalIndex
from kb.index.vectors import ChromaStore, VectorStore
from kb.runtime.events import EventBus
from kb.runtime.priority import Background
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
    embedder: SentenceTransformerEmbedder
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
    # Encrypts provider keys and webhook secrets at rest.
    secrets: SecretBox
    # What happened (ingestions, crawls, conversations, leads), told to webhook subscribers.
    events: EventBus
    webhooks: WebhookService
    webhook_dispatcher: WebhookDispatcher
    leads: LeadRepository
    # Provider keys set over the API (encrypted by ``secrets``); they win over the environment's.
    credentials: CredentialRepository

    def close(self) -> None:
        """Release what the services hold."""
        self.crawls.shutdown()  # crawls write through the registry: stop them first
        self.ingestion.close()  # after the crawls, which ingest through it
        self.webhook_dispatcher.stop()  # after the crawls, whose last events are stored
        self.registry.close()
        self.lexical.close()
        self.store.close()


def build_container(
    settings: Settings | None = None, embedder: SentenceTransformerEmbedder | None = None
) -> Container:
    """Build the services for ``settings`` (environment settings when None).

    ``embedder`` lets several containers share one loaded model (tests, benchmarks).
    """
    settings = settings or Settings()
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    encryption_keys = settings.security.encryption_keys
    registry = Registry(settings.database_url)
    events = EventBus()
    lexical = SqliteLexicalIndex(settings.storage.data_dir / "lexical.sqlite3")
    store = ChromaStore(
        path=settings.storage.data_dir / "chroma",
        host=settings.store.chroma_host,
        port=settings.store.chroma_port,
        texts=lexical,  # chunk texts live in the lexical index only
    )
    embedder = embedder or SentenceTransformerEmbedder(
        settings.embedding.model,
        cache_dir=settings.model_cache_dir,
        device=settings.embedding.device,
        batch_size=settings.embedding.batch_size,
        batch_tokens=settings.embedding.batch_tokens,
        threads=settings.embedding.threads,
        backend=settings.embedding.backend,
        pool_nice=settings.ingest.background_nice,
    )
    chunker = SentenceChunker(
        settings.chunking.chunk_size,
        settings.chunking.chunk_overlap,
        embedder.count_tokens,
        embedder.word_tokens,
    )
    limits = ParseLimits(
        max_pdf_pages=settings.ingest.max_pdf_pages,
        max_unzipped_bytes=settings.ingest.max_unzipped_bytes,
        max_text_chars=settings.ingest.max_text_chars,
    )
    ingestion = IngestionService(
        registry,
        store,
        lexical,
        embedder,
        chunker,
        parse_bytes,
        limits,
        settings.ingest.max_upload_bytes,
        events=events,
        background=Background(settings.ingest.background_nice, name="ingest"),
    )
    retrieval = settings.retrieval
    reranker = (
        CrossEncoderReranker(retrieval.rerank_model, retrieval.rerank_depth)
        if retrieval.rerank_model
        else None
    )
    retriever = Retriever(
        registry,
        store,
        lexical,
        embedder,
        RetrievalConfig(
            mode=retrieval.mode,
            fusion=retrieval.fusion,
            dense_weight=retrieval.dense_weight,
            min_score=retrieval.min_score,
            candidates=retrieval.candidates,
        ),
        reranker,
    )
    secrets = SecretBox.from_settings(
        encryption_keys.get_secret_value() if encryption_keys else None,
        settings.storage.data_dir,
    )
    credentials = CredentialRepository(registry.engine, secrets)
    models = ModelRegistry(settings.llm, embedder, credentials.secret)
    queries = QueryService(
        retriever,
        models,
        settings.llm.max_new_tokens,
        kb_default_model=lambda kb_id: registry.get_kb(kb_id).default_model,
    )
    catalog = Catalog(registry, store, lexical, validate_model=models.validate)
    conversations = ConversationService(
        ConversationRepository(registry.engine),
        registry,
        queries,
        QuestionRewriter(models, use_llm=settings.chat.llm_rewrite),
        history_messages=settings.chat.history_messages,
        events=events,
    )
    webhooks, dispatcher = _webhooks(settings, registry, events, secrets)
    return Container(
        settings=settings,
        registry=registry,
        store=store,
        lexical=lexical,
        catalog=catalog,
        embedder=embedder,
        ingestion=ingestion,
        retriever=retriever,
        models=models,
        queries=queries,
        crawls=CrawlService(
            CrawlDeps(
                ingestion,
                registry,
                CrawlRepository(registry.engine),
                settings.crawl,
                settings.ingest.max_upload_bytes,
                events=events,
            )
        ),
        conversations=conversations,
        keys=KeyRepository(
            registry.engine, timedelta(seconds=settings.security.key_grace_period_s)
        ),
        audit=AuditLog(registry.engine),
        oauth=_oauth(settings, registry),
        secrets=secrets,
        events=events,
        webhooks=webhooks,
        webhook_dispatcher=dispatcher,
        leads=LeadRepository(registry.engine, events),
        credentials=credentials,
    )


def _webhooks(
    settings: Settings, registry: Registry, events: EventBus, box: SecretBox
) -> tuple[WebhookService, WebhookDispatcher]:
    repository = WebhookRepository(registry.engine, box)
    dispatcher = WebhookDispatcher(repository, settings.webhook)
    events.subscribe(dispatcher.on_event)  # deliveries are stored even before the worker runs
    return WebhookService(repository, dispatcher, settings.webhook), dispatcher


def _oauth(settings: Settings, registry: Registry) -> OAuthService:
    configured = settings.security.token_signing_key
    keys = signing_keys(
        configured.get_secret_value() if configured else None, settings.storage.data_dir
    )
    return OAuthService(OAuthClientRepository(registry.engine), keys, settings.security.token_ttl_s)
