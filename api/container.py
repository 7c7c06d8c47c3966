"""The composition root: concrete services built from settings, handed to the app and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from engine.answer import QueryService
from engine.llms.registry import ModelRegistry
from engine.retrieve import Retriever
from ingest.chunking import SentenceChunker
from ingest.parsers.base import ParseLimits
from ingest.parsers.registry import parse_bytes
from ingest.pipeline import IngestionService
from kb.catalog import Catalog
from kb.embeddings import SentenceTransformerEmbedder
from kb.registry import Registry
from kb.settings import Settings
from kb.store import ChromaStore, VectorStore


@dataclass
class Container:
    """Every service the API and CLI use."""

    settings: Settings
    registry: Registry
    store: VectorStore
    catalog: Catalog
    embedder: SentenceTransformerEmbedder
    ingestion: IngestionService
    retriever: Retriever
    models: ModelRegistry
    queries: QueryService

    def close(self) -> None:
        """Release what the services hold."""
        self.registry.close()


def build_container(
    settings: Settings | None = None, embedder: SentenceTransformerEmbedder | None = None
) -> Container:
    """Build the services for ``settings`` (environment settings when None).

    ``embedder`` lets several containers share one loaded model (tests, benchmarks).
    """
    settings = settings or Settings()
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
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
    )
    chunker = SentenceChunker(
        settings.chunking.chunk_size, settings.chunking.chunk_overlap, embedder.count_tokens
    )
    limits = ParseLimits(
        max_pdf_pages=settings.ingest.max_pdf_pages,
        max_unzipped_bytes=settings.ingest.max_unzipped_bytes,
        max_text_chars=settings.ingest.max_text_chars,
    )
    ingestion = IngestionService(
        registry, store, embedder, chunker, parse_bytes, limits, settings.ingest.max_upload_bytes
    )
    retriever = Retriever(registry, store, embedder, settings.retrieval.min_score)
    models = ModelRegistry(settings.llm, embedder)
    queries = QueryService(retriever, models, settings.llm.max_new_tokens)
    catalog = Catalog(registry, store)
    return Container(
        settings, registry, store, catalog, embedder, ingestion, retriever, models, queries
    )
