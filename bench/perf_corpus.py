"""The generated knowledge bases of perf_bench (b): chunks written straight into the store, the
BM25 index and the registry, built from real passages and their real vectors."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import numpy as np

from api.container import Container
from kb.models import Chunk, Document, chunk_id, content_version

CHUNKS_PER_DOC = 10
NOISE = 0.01  # per dimension; cosine to the real vector stays ~0.98


def build_kb(
    container: Container, name: str, size: int, passages: list[str], vectors: np.ndarray
) -> str:
    """A knowledge base of ``size`` generated chunks written straight into store and index."""
    kb = container.catalog.create_kb(name)
    rng = np.random.default_rng(size)
    now = datetime.now(UTC)
    for start in range(0, size, 5000):
        ids = range(start, min(start + 5000, size))
        texts, noisy = generated_chunks(ids, passages, vectors, rng)
        chunks: list[Chunk] = []
        documents: list[Document] = []
        for first in range(0, len(texts), CHUNKS_PER_DOC):
            part = texts[first : first + CHUNKS_PER_DOC]
            digest = hashlib.sha256("\0".join(part).encode()).hexdigest()
            doc_id = f"doc_{name}_{(start + first) // CHUNKS_PER_DOC:06d}"
            source = f"generated:{name}/{doc_id}"
            version = content_version(digest)
            offset = 0
            for index, text in enumerate(part):
                chunks.append(
                    Chunk(
                        id=chunk_id(doc_id, version, index),
                        kb_id=kb.id,
                        document_id=doc_id,
                        version=version,
                        index=index,
                        text=text,
                        title=doc_id,
                        source=source,
                        media_type="text/plain",
                        start_char=offset,
                        end_char=offset + len(text),
                    )
                )
                offset += len(text) + 2
            documents.append(
                Document(
                    id=doc_id,
                    kb_id=kb.id,
                    title=doc_id,
                    source=source,
                    media_type="text/plain",
                    content_hash=digest,
                    size_bytes=offset,
                    chunk_count=len(part),
                    status="ready",
                    created_at=now,
                    updated_at=now,
                )
            )
        container.store.add(kb.id, chunks, noisy.tolist())
        container.lexical.add(kb.id, chunks)
        container.registry.save_documents(documents)
    return kb.id


def generated_chunks(
    ids: range, passages: list[str], vectors: np.ndarray, rng: np.random.Generator
) -> tuple[list[str], np.ndarray]:
    """Chunk texts and vectors for ``ids``: the first chunks are the real passages; past them,
    each chunk joins the first half of one passage to the second half of another (so 100k
    chunks stay distinct, and near-duplicate removal does not see 20 copies of each passage),
    its vector the normalised mean of the two passages' vectors plus N(0, NOISE) noise."""
    count = len(passages)
    firsts = np.array([i % count for i in ids])
    seconds = np.array([(i * 7919 + i // count) % count if i >= count else i for i in ids])
    texts = []
    for first, second in zip(firsts, seconds, strict=True):
        if first == second:
            texts.append(passages[first])
            continue
        head, tail = passages[first].split(), passages[second].split()
        texts.append(" ".join(head[: len(head) // 2] + tail[len(tail) // 2 :]))
    mixed = vectors[firsts] + vectors[seconds]
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    noisy = mixed + rng.normal(0, NOISE, mixed.shape)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return texts, noisy


def lexical_add_cost(container: Container, kb_id: str, count: int = 16) -> float:
    """Seconds per chunk of ``SqliteLexicalIndex.add`` (the ingestion path) into ``kb_id``."""
    chunks = [
        Chunk(
            id=f"probe:{i}",
            kb_id=kb_id,
            document_id="probe",
            version="probe",
            index=i,
            text="probe text",
            title="probe",
            source="probe",
            media_type="text/plain",
            start_char=0,
            end_char=10,
        )
        for i in range(count)
    ]
    start = time.perf_counter()
    container.lexical.add(kb_id, chunks)
    seconds = (time.perf_counter() - start) / count
    container.lexical.delete_document(kb_id, "probe")
    return seconds
