"""The vector store seam and its Chroma implementation (one collection per knowledge base)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import chromadb
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from kb.index.chroma_files import ChromaFiles
from kb.index.inventory import ChunkInventory
from kb.models import Chunk, chunk_id_parts

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenseHit:
    """A chunk near the query vector: its id, document, version and cosine similarity."""

    chunk_id: str
    document_id: str
    version: str
    similarity: float


class VectorStore(ChunkInventory, Protocol):
    """Stores chunk vectors per knowledge base and finds the nearest ones."""

    def add(self, kb_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or overwrite chunks with their vectors."""

    def query(
        self, kb_id: str, vector: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[DenseHit]:
        """The k nearest chunks, best first (without their text: ``get`` fetches that)."""

    def chunks(self, kb_id: str, document_id: str, version: str | None = None) -> list[Chunk]:
        """A document's chunks in order (of one version when given)."""

    def get(self, kb_id: str, chunk_ids: Sequence[str]) -> list[tuple[Chunk, list[float]]]:
        """Chunks by id with their vectors (ids not found are left out)."""

    def delete_document(
        self, kb_id: str, document_id: str, keep_version: str | None = None
    ) -> None:
        """Remove a document's chunks, except those of ``keep_version`` when given."""

    def delete_version(self, kb_id: str, document_id: str, version: str) -> None:
        """Remove one version of a document's chunks."""

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
    ) -> None:
        settings = ChromaSettings(anonymized_telemetry=False)
        if host:
            self._client: Any = chromadb.HttpClient(host=host, port=port, settings=settings)
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

    def _collection(self, kb_id: str) -> Any:
        with self._lock:
            found = self._collections.get(kb_id)
        if found is not None:
            return found
        # embedding_function=None: vectors always come from our embedder, and Chroma's default
        # would try to download a model at run time.
        collection = self._client.get_or_create_collection(
            name=kb_id, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )
        with self._lock:
            return self._collections.setdefault(kb_id, collection)

    def add(self, kb_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Insert or overwrite chunks with their vectors, in batches Chroma accepts."""
        collection = self._collection(kb_id)
        for start in range(0, len(chunks), self._max_batch):
            batch = chunks[start : start + self._max_batch]
            collection.upsert(
                ids=[c.id for c in batch],
                embeddings=[list(v) for v in vectors[start : start + self._max_batch]],
                documents=None if self._texts is not None else [c.text for c in batch],
                metadatas=[c.metadata() for c in batch],
            )

    def query(
        self, kb_id: str, vector: Sequence[float], k: int, where: dict[str, Any] | None = None
    ) -> list[DenseHit]:
        """The k nearest chunks, best first; similarity is cosine (1 - distance).

        Texts are left out on purpose: at 100k chunks Chroma takes ~12 ms to return 40 hits
        with their documents but ~2.5 ms without, and the caller needs the text of only the
        few it keeps (``get``)."""
        collection = self._collection(kb_id)
        # Document and version come from the ids (``kb.models.chunk_id``): asking Chroma for
        # the metadata too doubles its time (2.2 against 1.0 ms for 40 hits at 100k chunks).
        result = collection.query(
            query_embeddings=[list(vector)], n_results=k, where=where, include=["distances"]
        )
        ids, distances = result["ids"][0], result["distances"][0]
        named = {i: chunk_id_parts(i) for i in ids}
        unnamed = [i for i, parts in named.items() if parts is None]
        if unnamed:  # ids of another form: read their metadata
            got = collection.get(ids=unnamed, include=["metadatas"])
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

    def get(self, kb_id: str, chunk_ids: Sequence[str]) -> list[tuple[Chunk, list[float]]]:
        """Chunks by id with their vectors."""
        if not chunk_ids:
            return []
        got = self._collection(kb_id).get(
            ids=list(chunk_ids), include=self._include("metadatas", "embeddings")
        )
        return [
            (chunk, [float(x) for x in got["embeddings"][row]])
            for chunk, row in self._rebuilt(kb_id, got)
        ]

    def _include(self, *fields: str) -> list[str]:
        return [*fields] if self._texts is not None else [*fields, "documents"]

    def _rebuilt(self, kb_id: str, got: dict[str, Any]) -> list[tuple[Chunk, int]]:
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
                stored = self._collection(kb_id).get(ids=older, include=["documents"])
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
        self, kb_id: str, document_id: str, keep_version: str | None = None
    ) -> None:
        """Remove a document's chunks, sparing ``keep_version``."""
        where: dict[str, Any] = {"document_id": document_id}
        if keep_version is not None:
            where = {"$and": [where, {"version": {"$ne": keep_version}}]}
        self._collection(kb_id).delete(where=where)

    def delete_version(self, kb_id: str, document_id: str, version: str) -> None:
        """Remove one version of a document's chunks."""
        self._collection(kb_id).delete(
            where={"$and": [{"document_id": document_id}, {"version": version}]}
        )

    def drop(self, kb_id: str) -> None:
        """Delete the knowledge base's collection if it exists and, embedded, what Chroma
        leaves of it on disk: its segment folder and the deleted rows' bytes
        (``kb.index.chroma_files``). A failure is logged: `kb doctor` drops it later."""
        with self._lock:
            self._collections.pop(kb_id, None)
        try:
            collection = self._client.get_collection(name=kb_id)
            segments = self._files.segment_ids(str(collection.id)) if self._files else set()
            self._client.delete_collection(name=kb_id)
        except NotFoundError:
            return
        except Exception:
            logger.exception("could not delete the Chroma collection of %s", kb_id)
            return
        if self._files is not None:
            self._files.remove_segments(segments)
            self._files.compact()

    def kb_ids(self) -> set[str]:
        """The knowledge bases that have a collection."""
        return {str(collection.name) for collection in self._client.list_collections()}

    def versions(self, kb_id: str) -> dict[tuple[str, str], int]:
        """How many chunks each (document, version) has in the knowledge base's collection."""
        collection = self._collection(kb_id)
        counts: dict[tuple[str, str], int] = {}
        unnamed: list[str] = []
        page = 50_000  # ids only: ~0.6 s per 100k chunks
        for offset in itertools.count(0, page):
            ids = collection.get(include=[], limit=page, offset=offset)["ids"]
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
            got = collection.get(ids=part, include=["metadatas"])
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

    def count(self, kb_id: str) -> int:
        """Number of stored chunks (all versions) in a knowledge base."""
        return int(self._collection(kb_id).count())
