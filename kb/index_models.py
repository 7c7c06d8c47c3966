"""The embedding model of each knowledge base's index, and the loaded models shared by all.

A knowledge base is created with a model (the configured ``KB_EMBEDDING__MODEL`` unless it
names one); its name, fingerprint and dimension are recorded with its index
(``kb.db.indexes``) and tag its collection (``kb.index.vectors``). Searching and ingesting ask
``IndexModels.bound`` for the knowledge base's index and the embedder of its model, so a
question is always embedded by the model that filled the index. Loaded models are kept in one
``EmbedderPool`` by name: two knowledge bases on the same model share it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from kb.db.indexes import EmbeddingIndex, IndexRecords
from kb.embeddings.base import TokenizingEmbedder
from kb.embeddings.catalog import EMBEDDERS, EmbedderOptions, EmbedderSpec, load_embedder, spec_for
from kb.errors import InvalidInput
from kb.index.vectors import VectorStore


class EmbedderPool:
    """One embedder per model name, made on first request (and loaded on first use)."""

    def __init__(
        self, options: EmbedderOptions, preloaded: Iterable[TokenizingEmbedder] = ()
    ) -> None:
        self._options = options
        self._loaded: dict[str, TokenizingEmbedder] = {e.name: e for e in preloaded}
        self._lock = threading.Lock()

    def get(self, name: str) -> TokenizingEmbedder:
        """The embedder of model ``name``, shared by every caller."""
        with self._lock:
            found = self._loaded.get(name)
            if found is None:
                found = self._loaded[name] = load_embedder(name, self._options)
            return found

    def spec(self, name: str) -> EmbedderSpec:
        """The model's defaults (relevance floor, window, languages) without loading it."""
        return spec_for(name)

    def describe(self, name: str) -> tuple[str, int | None]:
        """The model's fingerprint and dimension: known for bundled models, else read from
        the loaded model. InvalidInput for a bundled name this install does not ship."""
        if name.startswith("bundled:") and name not in EMBEDDERS:
            raise InvalidInput(
                f"Unknown bundled embedding model {name!r}; use one of {sorted(EMBEDDERS)}."
            )
        spec = spec_for(name)
        if spec.fingerprint is not None and spec.dimension is not None:
            return spec.fingerprint, spec.dimension
        embedder = self.get(name)
        return embedder.fingerprint, len(embedder.embed(["dimension"])[0])


@dataclass(frozen=True)
class BoundIndex:
    """A knowledge base's index with the embedder of its model and that model's floor."""

    index: EmbeddingIndex
    embedder: TokenizingEmbedder
    relevance_floor: float


class IndexModels:
    """Which model each knowledge base's index uses; new indexes; legacy ones adopted."""

    def __init__(
        self,
        records: IndexRecords,
        pool: EmbedderPool,
        store: VectorStore,
        default_model: str,
        legacy_model: str | None = None,
    ) -> None:
        self.records = records
        self.pool = pool
        self._store = store
        self.default_model = default_model
        # The model that filled indexes of releases that recorded none: the configured one
        # when it was set explicitly, else those releases' default (not today's).
        self.legacy_model = legacy_model or default_model

    def create(self, kb_id: str, model: str | None = None) -> EmbeddingIndex:
        """Record (and make the collection of) a new knowledge base's index."""
        name = model or self.default_model
        fingerprint, dimension = self.pool.describe(name)
        self._store.create_collection(kb_id, name, fingerprint, dimension)
        return self.records.record(EmbeddingIndex(kb_id, name, fingerprint, dimension, kb_id))

    def index_of(self, kb_id: str) -> EmbeddingIndex:
        """The knowledge base's index; one made by an older release (none recorded) was
        filled by ``legacy_model``, in the collection named after the knowledge base."""
        found = self.records.get(kb_id)
        return found if found is not None else self.create(kb_id, self.legacy_model)

    def collection_of(self, kb_id: str) -> str:
        """The name of the knowledge base's active collection (no adoption: cheap)."""
        found = self.records.get(kb_id)
        return found.collection if found is not None else kb_id

    def bound(self, kb_id: str) -> BoundIndex:
        """The knowledge base's index, its model's embedder and relevance floor."""
        index = self.index_of(kb_id)
        return BoundIndex(
            index, self.pool.get(index.model), self.pool.spec(index.model).relevance_floor
        )
