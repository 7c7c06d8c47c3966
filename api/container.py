"""The composition root: concrete services built from settings, handed to the app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from engine.answer import QueryService
from engine.conversation import ConversationService
from engine.llms.registry import ModelRegistry
from engine.rerank import CrossEncoderReranker
from engine.retrieve import RetrievalConfig, Retriever
from engine.rewrite import QuestionRewriter
from ingest.chunking import SentenceChunker
from ingest.crawl import CrawlDeps, CrawlService
from ingest.parsers.base import ParseLimits
from ingest.parsers.registry import parse_bytes
from ingest.pipeline import IngestionService
from kb.catalog import Catalog
from kb.conversations import ConversationRepository
from kb.crawls import CrawlRepository
from kb.embeddings import SentenceTransformerEmbedder
from kb.keys import KeyRepository
from kb.lexical import LexicalIndex, SqliteLexicalIndex
from kb.registry import Registry
from kb.secrets import SecretBox
from kb.settings import Settings
from kb.store import ChromaStore, VectorStore


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
    # Encrypts provider keys and webhook secrets at rest.
    secrets: SecretBox

    def close(self) -> None:
        """Release what the services hold."""
        self.crawls.shutdown()  # crawls write through the registry: stop them first
        self.registry.close()
        self.lexical.close()


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
    store = ChromaStore(
        path=settings.storage.data_dir / "chroma",
        host=settings.store.chroma_host,
        port=settings.store.chroma_port,
    )
    embedder = embedder or SentenceTransformerEmbedder(
        settings.embedding.model,
        cache_dir=settings.model_cache_dir,
        device=settings.embedding.device,
        batch_size=settings.embedding.batch_size,
        backend=settings.embedding.backend,
    )
    chunker = SentenceChunker(
        settings.chunking.chunk_size, settings.chunking.chunk_overlap, embedder.count_tokens
    )
    limits = ParseLimits(
        max_pdf_pages=settings.ingest.max_pdf_pages,
        max_unzipped_bytes=settings.ingest.max_unzipped_bytes,
        max_text_chars=settings.ingest.max_text_chars,
    )
    lexical = SqliteLexicalIndex(settings.storage.data_dir / "lexical.sqlite3")
    ingestion = IngestionService(
        registry,
        store,
        lexical,
        embedder,
        chunker,
        parse_bytes,
        limits,
        settings.ingest.max_upload_bytes,
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
    models = ModelRegistry(settings.llm, embedder)
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
    )
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
            )
        ),
        conversations=conversations,
        keys=KeyRepository(
            registry.engine, timedelta(seconds=settings.security.key_grace_period_s)
        ),
        secrets=SecretBox.from_settings(
            encryption_keys.get_secret_value() if encryption_keys else None,
            settings.storage.data_dir,
        ),
    )
