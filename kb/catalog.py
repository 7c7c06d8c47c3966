"""Knowledge bases and documents as users see them: the registry and the store kept in step."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterable
from contextlib import AbstractContextManager

from kb.db.base import UNSET, Unset
from kb.db.indexes import EmbeddingIndex
from kb.db.registry import Registry
from kb.errors import InvalidInput, KnowledgeBaseNotFound
from kb.index.lexical import LexicalIndex
from kb.index.vectors import VectorStore
from kb.index_models import IndexModels
from kb.models import Chunk, Document, KnowledgeBase


class Catalog:
    """Create, read, update and delete knowledge bases; read documents and their chunks."""

    def __init__(
        self,
        registry: Registry,
        store: VectorStore,
        lexical: LexicalIndex,
        validate_model: Callable[[str], None] | None = None,
        write_lock: Callable[[str], AbstractContextManager[object]] | None = None,
        indexes: IndexModels | None = None,
    ) -> None:
        self._registry = registry
        # Each knowledge base's embedding model (recorded at creation); None: no records.
        self._indexes = indexes
        self._store = store
        self._lexical = lexical
        # Ingestion's per-knowledge-base lock: a deletion waits for a write under way, which
        # would otherwise re-create what was just dropped.
        self._write_lock = write_lock or (lambda _kb_id: contextlib.nullcontext())
        # Model specs are the engine's business; it checks them for us (kb imports no engine).
        self._validate_model = validate_model or (lambda _spec: None)

    def create_kb(
        self,
        name: str,
        description: str = "",
        default_model: str | None = None,
        embedding_model: str | None = None,
        verification: str | None = None,
    ) -> KnowledgeBase:
        """A new, empty knowledge base with its own collection, filled by ``embedding_model``
        (the configured one when None) and, optionally, its own default answering model and
        verification policy."""
        name = name.strip()
        if not name:
            raise InvalidInput("A knowledge base needs a non-empty name.")
        if default_model is not None:
            self._validate_model(default_model)
        if self._indexes is not None and embedding_model is not None:
            self._indexes.pool.describe(embedding_model)  # refused before anything is made
        elif embedding_model is not None:
            raise InvalidInput("This server does not record embedding models per knowledge base.")
        kb = self._registry.create_kb(name, description, default_model, verification)
        if self._indexes is not None:
            self._indexes.create(kb.id, embedding_model)
        return kb

    def index_of(self, kb_id: str) -> EmbeddingIndex | None:
        """The knowledge base's embedding index (model, fingerprint, collection)."""
        return self._indexes.index_of(kb_id) if self._indexes is not None else None

    def list_kbs(
        self, limit: int, offset: int, only: Collection[str] | None = None
    ) -> tuple[list[KnowledgeBase], int]:
        """A page of knowledge bases and the total count; ``only`` these ids when given."""
        return self._registry.list_kbs(limit, offset, only)

    def get_kb(self, kb_id: str) -> KnowledgeBase:
        """One knowledge base by id."""
        return self._registry.get_kb(kb_id)

    def resolve_kb(self, id_or_name: str) -> KnowledgeBase | None:
        """A knowledge base by id or name, without document counts (the CLI and access checks
        need its id only; every request with a restricted key makes one)."""
        return self._registry.find_kb(id_or_name, counts=False)

    def require_kb(self, id_or_name: str) -> KnowledgeBase:
        """``resolve_kb``, or KnowledgeBaseNotFound."""
        found = self.resolve_kb(id_or_name)
        if found is None:
            raise KnowledgeBaseNotFound(f"No knowledge base with id or name {id_or_name!r}.")
        return found

    def resolve_kb_ids(self, refs: Iterable[str]) -> list[str]:
        """The ids of the knowledge bases named by id or name; KnowledgeBaseNotFound if any is
        unknown."""
        ids = []
        for ref in refs:
            found = self._registry.find_kb(ref, counts=False)
            if found is None:
                raise KnowledgeBaseNotFound(f"No knowledge base has the id or name {ref!r}.")
            ids.append(found.id)
        return ids

    def update_kb(
        self,
        kb_id: str,
        name: str | None = None,
        description: str | None = None,
        default_model: str | Unset | None = UNSET,
        verification: str | Unset | None = UNSET,
    ) -> KnowledgeBase:
        """Rename, re-describe, change the default model or the verification policy of a
        knowledge base (None clears either)."""
        if name is not None and not name.strip():
            raise InvalidInput("A knowledge base needs a non-empty name.")
        if isinstance(default_model, str):
            self._validate_model(default_model)
        return self._registry.update_kb(
            kb_id, name.strip() if name else None, description, default_model, verification
        )

    def delete_kb(self, kb_id: str) -> None:
        """Delete a knowledge base and everything stored for it: every row that belongs to it
        (documents, conversations, leads, crawls, webhook deliveries: ``kb.db.erasure``), its
        vectors with the files Chroma leaves behind, and its lexical index, each overwritten
        rather than left in free pages. Interrupted half-way, `kb doctor` (run at each start)
        finishes it."""
        with self._write_lock(kb_id):
            self._registry.delete_kb(kb_id)
            self._store.drop(kb_id)
            self._lexical.drop(kb_id)

    def list_documents(self, kb_id: str, limit: int, offset: int) -> tuple[list[Document], int]:
        """A page of a knowledge base's documents and the total count."""
        return self._registry.list_documents(kb_id, limit, offset)

    def get_document(self, kb_id: str, doc_id: str) -> Document:
        """One document by id."""
        return self._registry.get_document(kb_id, doc_id)

    def document_chunks(self, kb_id: str, doc_id: str) -> list[Chunk]:
        """The chunks of a document's live version, in order."""
        document = self._registry.get_document(kb_id, doc_id)
        return self._store.chunks(kb_id, doc_id, version=document.version)
