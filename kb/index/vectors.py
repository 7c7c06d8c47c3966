"""The vector store seam and its Chroma implementation (one collection per knowledge base).

A knowledge base's collection is tagged with the embedding model that filled it (name,
fingerprint, dimension); vectors said to come from another model, or of another size, are
refused with ``EmbeddingModelMismatch`` rather than mixed in. While it is re-indexed with
another model, a knowledge base has a second collection (``kb_id-<hex>``): callers name it with
``collection=``; by default each call goes to the collection ``resolve`` names active.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import InvalidArgumentError, NotFoundError

from kb.errors import EmbeddingModelMismatch
from kb.index.chroma_files import ChromaFiles
from kb.index.inventory import ChunkInventory
from kb.models import Chunk, chunk_id_parts

logger = logging.getLogger(__name__)

# Collection metadata naming the model that filled it.
MODEL_TAG, FINGERPRINT_TAG, DIMENSION_TAG = "embedding_model", "embedding_fingerprint", "dimension"


def collection_kb(name: str) -> str:
    """The knowledge base a collection belongs to (``kb_x`` or, re-indexed, ``kb_x-3f9a``)."""
    return name.split("-", 1)[0]


@dataclass(frozen=True)
class DenseHit:
    """A chunk near the query vector: its id, document, version and cosine similarity."""

    chunk_id: str
    document_id: str
    version: str
    similarity: float


class VectorStore(ChunkInventory, Protocol):
    """Stores chunk vectors per knowledge base and finds the nearest ones."""

    def add(
        self,
        kb_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        *,
        collection: str | None = None,
        embedded_by: str | None = None,
    ) -> None:
        """Insert or overwrite chunks with their vectors (``embedded_by``: the fingerprint of
        the model that made them, checked against the collection's)."""

    def query(
        self,
        kb_id: str,
        vector: Sequence[float],
        k: int,
        where: dict[str, Any] | None = None,
        *,
        collection: str | None = None,
        embedded_by: str | None = None,
    ) -> list[DenseHit]:
        """The k nearest chunks, best first (without their text: ``get`` fetches that)."""

    def chunks(self, kb_id: str, document_id: str, version: str | None = None) -> list[Chunk]:
        """A document's chunks in order (of one version when given)."""

    def get(
        self, kb_id: str, chunk_ids: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[Chunk, list[float]]]:
        """Chunks by id with their vectors (ids not found are left out)."""

    def delete_document(
        self,
        kb_id: str,
        document_id: str,
        keep_version: str | None = None,
        *,
        collection: str | None = None,
    ) -> None:
        """Remove a document's chunks, except those of ``keep_version`` when given."""

    def delete_version(
        self, kb_id: str, document_id: str, version: str, *, collection: str | None = None
    ) -> None:
        """Remove one version of a document's chunks."""

    def versions(self, kb_id: str, *, collection: str | None = None) -> dict[tuple[str, str], int]:
        """How many chunks each (document, version) has in the (given) collection."""

    def create_collection(
        self, name: str, model: str, fingerprint: str, dimension: int | None
    ) -> None:
        """Create (or tag, if untagged) a collection filled by this model."""

    def drop_collection(self, name: str) -> None:
        """Delete one collection (a knowledge base's old or abandoned index)."""

    def drop(self, kb_id: str) -> None:
        """Remove everything stored for a knowledge base."""

    def close(self) -> None:
        """Release the store's connections and files."""


class ChunkTexts(Protocol):
    """Where chunk texts are kept when the vector store keeps none (the lexical index)."""

    def chunk_texts(self, kb_id: str, sections: Mapping[str, str | None]) -> dict[str, str]:
        """Texts by chunk id (``sections``: id -> the chunk's section heading)."""


class ChromaStore:
    """Chroma, embedded under a directory by default or a Chroma server when a host is given.

    With ``texts`` (the lexical index, which holds every chunk's text anyway), Chroma stores
    vectors and metadata only and texts are read back from there: storing and full-text indexing
    each text a second time inside Chroma took half of its write time (0.7 against 0.3 ms per
    chunk) and most of its disk. Chunks written by earlier versions still carry their text in
    Chroma, which is read when ``texts`` lacks one. Without ``texts``, Chroma keeps the texts.
    """

    def __init__(
        self,
        path: Path | None = None,
        host: str | None = None,
        port: int = 8000,
        texts: ChunkTexts | None = None,
        resolve: Callable[[str], str] | None = None,
        ssl: bool = False,
        auth_token: str | None = None,
    ) -> None:
        # kb id -> the name of its active collection (the kb id itself unless re-indexed).
        self._resolve = resolve or (lambda kb_id: kb_id)
        settings = ChromaSettings(anonymized_telemetry=False)
        if host:
            # A token-authenticated server (chroma's token authn) reads it from this header.
            headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else None
            self._client: Any = chromadb.HttpClient(
                host=host, port=port, ssl=ssl, headers=headers, settings=settings
            )
        else:
            assert path is not None, "an embedded Chroma needs a path"
            path.mkdir(parents=True, exist_ok=True)
            self._client = chromadb.PersistentClient(path=str(path), settings=settings)
        # The embedded store's own files; a server's are the server's (kb.index.chroma_files).
        self._files = ChromaFiles(path) if not host and path is not None else None
        self._max_batch = int(self._client.get_max_batch_size())
        # Looking a collection up costs ~1.5 ms, a third of a search at 100k chunks: handles
        # are kept, and forgotten when the knowledge base is dropped.
        self._collections: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._texts = texts

    def _collection(self, kb_id: str, name: str | None = None) -> Any:
        name = name or self._resolve(kb_id)
        with self._lock:
            found = self._collections.get(name)
        if found is not None:
            return found
        # embedding_function=None: vectors always come from our embedder, and Chroma's default
        # would try to download a model at run time.
        collection = self._client.get_or_create_collection(
            name=name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        with self._lock:
            return self._collections.setdefault(name, collection)

    def create_collection(
        self, name: str, model: str, fingerprint: str, dimension: int | None
    ) -> None:
        """Create a collection tagged with the model that fills it; an untagged one (made by an
        older release, or before its first vectors) is tagged."""
        tags: dict[str, Any] = {MODEL_TAG: model, FINGERPRINT_TAG: fingerprint}
        if dimension:
            tags[DIMENSION_TAG] = dimension
        collection = self._client.get_or_create_collection(
            name=name, embedding_function=None, metadata={"hnsw:space": "cosine", **tags}
        )
        current = dict(collection.metadata or {})
        if current.get(FINGERPRINT_TAG) is None:
            # Chroma refuses "hnsw:space" in a modification, even unchanged; it keeps it.
            kept = {k: v for k, v in current.items() if not k.startswith("hnsw:")}
            collection.modify(metadata={**kept, **tags})
        with self._lock:
            self._collections.pop(name, None)  # re-read with its tags

    def _checked(
        self, kb_id: str, name: str | None, embedded_by: str | None, vector: Sequence[float]
    ) -> Any:
        """The collection, once vectors of ``embedded_by`` of this size may meet it."""
        collection = self._collection(kb_id, name)
        tags = collection.metadata or {}
        fingerprint, dimension = tags.get(FINGERPRINT_TAG), tags.get(DIMENSION_TAG)
        if embedded_by is not None and fingerprint is not None and embedded_by != fingerprint:
            raise EmbeddingModelMismatch(
                f"The index of {kb_id!r} was filled by {fingerprint}; vectors of {embedded_by} "
                "cannot be compared with it. Re-index the knowledge base to change its model.",
                index_model=tags.get(MODEL_TAG),
                index_fingerprint=fingerprint,
                vectors_fingerprint=embedded_by,
            )
        if dimension is not None and len(vector) != int(dimension):
            raise EmbeddingModelMismatch(
                f"The index of {kb_id!r} holds {dimension}-dimensional vectors "
                f"({tags.get(MODEL_TAG)}); these have {len(vector)}.",
                index_model=tags.get(MODEL_TAG),
                index_dimension=int(dimension),
            )
        return collection

    def add(
        self,
        kb_id: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
        *,
        collection: str | None = None,
        embedded_by: str | None = None,
    ) -> None:
        """Insert or overwrite chunks with their vectors, in batches Chroma accepts."""
        if not chunks:
            return
        target = self._checked(kb_id, collection, embedded_by, vectors[0])
        for start in range(0, len(chunks), self._max_batch):
            batch = chunks[start : start + self._max_batch]
            try:
                target.upsert(
                    ids=[c.id for c in batch],
                    embeddings=[list(v) for v in vectors[start : start + self._max_batch]],
                    documents=None if self._texts is not None else [c.text for c in batch],
                    metadatas=[c.metadata() for c in batch],
                )
            except InvalidArgumentError as exc:
                if "dimension" not in str(exc):
                    raise
                raise EmbeddingModelMismatch(f"{kb_id}: {exc}") from exc

    def query(
        self,
        kb_id: str,
        vector: Sequence[float],
        k: int,
        where: dict[str, Any] | None = None,
        *,
        collection: str | None = None,
        embedded_by: str | None = None,
    ) -> list[DenseHit]:
        """The k nearest chunks, best first; similarity is cosine (1 - distance).

        Texts are left out on purpose: at 100k chunks Chroma takes ~12 ms to return 40 hits
        with their documents but ~2.5 ms without, and the caller needs the text of only the
        few it keeps (``get``)."""
        found = self._checked(kb_id, collection, embedded_by, vector)
        # Document and version come from the ids (``kb.models.chunk_id``): asking Chroma for
        # the metadata too doubles its time (2.2 against 1.0 ms for 40 hits at 100k chunks).
        try:
            result = found.query(
                query_embeddings=[list(vector)], n_results=k, where=where, include=["distances"]
            )
        except InvalidArgumentError as exc:
            if "dimension" not in str(exc):
                raise
            raise EmbeddingModelMismatch(f"{kb_id}: {exc}") from exc
        ids, distances = result["ids"][0], result["distances"][0]
        named = {i: chunk_id_parts(i) for i in ids}
        unnamed = [i for i, parts in named.items() if parts is None]
        if unnamed:  # ids of another form: read their metadata
            got = found.get(ids=unnamed, include=["metadatas"])
            for i, meta in zip(got["ids"], got["metadatas"], strict=True):
                named[i] = (str(meta["document_id"]), str(meta["version"]))
        return [
            DenseHit(i, *parts, 1.0 - float(dist))
            for i, dist in zip(ids, distances, strict=True)
            if (parts := named.get(i)) is not None
        ]

    def chunks(self, kb_id: str, document_id: str, version: str | None = None) -> list[Chunk]:
        """A document's chunks in order."""
        where: dict[str, Any] = {"document_id": document_id}
        if version is not None:
            where = {"$and": [where, {"version": version}]}
        got = self._collection(kb_id).get(where=where, include=self._include("metadatas"))
        found = [chunk for chunk, _ in self._rebuilt(kb_id, got)]
        return sorted(found, key=lambda c: c.index)

    def get(
        self, kb_id: str, chunk_ids: Sequence[str], *, collection: str | None = None
    ) -> list[tuple[Chunk, list[float]]]:
        """Chunks by id with their vectors."""
        if not chunk_ids:
            return []
        got = self._collection(kb_id, collection).get(
            ids=list(chunk_ids), include=self._include("metadatas", "embeddings")
        )
        return [
            (chunk, [float(x) for x in got["embeddings"][row]])
            for chunk, row in self._rebuilt(kb_id, got, collection)
        ]

    def _include(self, *fields: str) -> list[str]:
        return [*fields] if self._texts is not None else [*fields, "documents"]

    def _rebuilt(
        self, kb_id: str, got: dict[str, Any], collection: str | None = None
    ) -> list[tuple[Chunk, int]]:
        """Chunks from a ``get`` result, each with its row there; a chunk whose text is found
        nowhere (mid-write or lost) is left out."""
        ids, metas = got["ids"], [dict(m) for m in got["metadatas"]]
        if self._texts is None:
            texts = dict(zip(ids, got["documents"], strict=True))
        else:
            texts = self._texts.chunk_texts(
                kb_id, {i: m.get("section") for i, m in zip(ids, metas, strict=True)}
            )
            older = [i for i in ids if i not in texts]
            if older:  # written before texts moved out of Chroma
                stored = self._collection(kb_id, collection).get(ids=older, include=["documents"])
                texts.update(
                    (i, d) for i, d in zip(stored["ids"], stored["documents"], strict=True) if d
                )
        lost = [i for i in ids if texts.get(i) is None]
        if lost:
            logger.warning(
                "%d chunk(s) of %s have no text in the BM25 index or Chroma (caught mid-write, or "
                "lexical.sqlite3 was lost); left out, e.g. %s",
                len(lost),
                kb_id,
                lost[0],
            )
        return [
            (Chunk.from_stored(i, texts[i], m), row)
            for row, (i, m) in enumerate(zip(ids, metas, strict=True))
            if texts.get(i) is not None
        ]

    def delete_document(
        self,
        kb_id: str,
        document_id: str,
        keep_version: str | None = None,
        *,
        collection: str | None = None,
    ) -> None:
        """Remove a document's chunks, sparing ``keep_version``."""
        where: dict[str, Any] = {"document_id": document_id}
        if keep_version is not None:
            where = {"$and": [where, {"version": {"$ne": keep_version}}]}
        self._collection(kb_id, collection).delete(where=where)

    def delete_version(
        self, kb_id: str, document_id: str, version: str, *, collection: str | None = None
    ) -> None:
        """Remove one version of a document's chunks."""
        self._collection(kb_id, collection).delete(
            where={"$and": [{"document_id": document_id}, {"version": version}]}
        )

    def drop(self, kb_id: str) -> None:
        """Delete every collection of the knowledge base (its index, and one being built)."""
        for collection in self._client.list_collections():
            if collection_kb(str(collection.name)) == kb_id:
                self.drop_collection(str(collection.name))

    def drop_collection(self, name: str) -> None:
        """Delete a collection if it exists and, embedded, what Chroma leaves of it on disk:
        its segment folder and the deleted rows' bytes (``kb.index.chroma_files``). A
        failure is logged: `kb doctor` drops it later."""
        with self._lock:
            self._collections.pop(name, None)
        try:
            collection = self._client.get_collection(name=name)
            segments = self._files.segment_ids(str(collection.id)) if self._files else set()
            self._client.delete_collection(name=name)
        except NotFoundError:
            return
        except Exception:
            logger.exception("could not delete the Chroma collection %s", name)
            return
        if self._files is not None:
            self._files.remove_segments(segments)
            self._files.compact()

    def kb_ids(self) -> set[str]:
        """The knowledge bases that have a collection."""
        return {collection_kb(str(c.name)) for c in self._client.list_collections()}

    def versions(self, kb_id: str, *, collection: str | None = None) -> dict[tuple[str, str], int]:
        """How many chunks each (document, version) has in the knowledge base's collection."""
        found = self._collection(kb_id, collection)
        counts: dict[tuple[str, str], int] = {}
        unnamed: list[str] = []
        page = 50_000  # ids only: ~0.6 s per 100k chunks
        for offset in itertools.count(0, page):
            ids = found.get(include=[], limit=page, offset=offset)["ids"]
            for i in ids:
                parts = chunk_id_parts(i)
                if parts is None:
                    unnamed.append(i)
                else:
                    counts[parts] = counts.get(parts, 0) + 1
            if len(ids) < page:
                break
        for start in range(0, len(unnamed), self._max_batch):  # ids of another form
            part = unnamed[start : start + self._max_batch]
            got = found.get(ids=part, include=["metadatas"])
            for meta in got["metadatas"]:
                key = (str(meta["document_id"]), str(meta["version"]))
                counts[key] = counts.get(key, 0) + 1
        return counts

    def remove_stray_files(self, dry_run: bool = False) -> int:
        """Remove (``dry_run``: count) segment folders of collections deleted before ``drop``
        removed them; none for a Chroma server."""
        if self._files is None:
            return 0
        if dry_run:
            return len(self._files.stray_folders())
        return self._files.remove_stray_folders()

    def close(self) -> None:
        """Release Chroma's database connections, files and runtime (the client is unusable
        afterwards)."""
        with self._lock:
            self._collections.clear()
        with contextlib.suppress(Exception):
            self._client.close()

    def count(self, kb_id: str, *, collection: str | None = None) -> int:
        """Number of stored chunks (all versions) in a knowledge base."""
        return int(self._collection(kb_id, collection).count())
