"""``kb eval``: ingest a BEIR collection into a throw-away knowledge base and compare retrieval
modes side by side (the same code is reachable from Python as ``evaluate_beir``)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from api.container import Container, build_container
from engine.evaluation import BeirCollection, evaluate, load_beir
from engine.retrieval.retriever import MODES, RetrievalConfig, Retriever, SearchRequest
from ingest.sources import RawSource
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import InvalidInput
from kb.settings import Settings

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EvalReport:
    """Mean metrics per retrieval mode, with what was measured."""

    collection: str
    documents: int
    queries: int
    results: dict[str, dict[str, float]]
    ingest_seconds: float


def evaluate_beir(
    folder: Path,
    modes: list[str] | None = None,
    settings: Settings | None = None,
    embedder: SentenceTransformerEmbedder | None = None,
    progress: Progress | None = None,
) -> EvalReport:
    """Evaluate each mode: ``dense``, ``lexical``, ``hybrid`` (the configured fusion) or
    ``hybrid:<fusion>[@<dense weight>]`` such as ``hybrid:minmax@0.5``."""
    modes = modes or list(MODES)
    collection = load_beir(folder)
    base = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        container = build_container(scratch_settings(base, Path(tmp)), embedder=embedder)
        try:
            started = time.perf_counter()
            kb_id = ingest_collection(container, collection, progress)
            ingest_seconds = time.perf_counter() - started
            results = {
                mode: _run_mode(container, kb_id, collection, mode, progress) for mode in modes
            }
        finally:
            container.close()
    return EvalReport(
        folder.name,
        len(collection.corpus),
        len(collection.judged_queries()),
        results,
        ingest_seconds,
    )


def scratch_settings(base: Settings, data_dir: Path) -> Settings:
    """``base`` with a throw-away data directory (and database); the model cache is shared."""
    return base.model_copy(
        update={
            "storage": base.storage.model_copy(update={"data_dir": data_dir, "database_url": None}),
            "embedding": base.embedding.model_copy(update={"cache_dir": base.model_cache_dir}),
        }
    )


def ingest_collection(
    container: Container, collection: BeirCollection, progress: Progress | None
) -> str:
    """Ingest a BEIR corpus into a new knowledge base named "eval"; its id."""
    kb_id = container.catalog.create_kb("eval").id
    total = len(collection.corpus)
    done = 0

    def tick(*_args: object) -> None:
        nonlocal done
        done += 1
        if progress:
            progress("ingest", done, total)

    raws = (
        RawSource(
            row["text"].encode("utf-8"),
            source=f"beir:{row['_id']}",
            title=row["title"] or None,
            declared_type="text/plain",
        )
        for row in collection.corpus
    )
    container.ingestion.ingest_many(kb_id, raws, on_done=tick)
    return kb_id


def _run_mode(
    container: Container,
    kb_id: str,
    collection: BeirCollection,
    mode: str,
    progress: Progress | None,
) -> dict[str, float]:
    retriever, base_mode = _retriever_for(container, mode)
    total = len(collection.judged_queries())
    done = 0

    def search(text: str) -> list[str]:
        passages = retriever.search(
            kb_id, SearchRequest(text, top_k=100, min_score=-1.0, mode=base_mode)
        )
        ranked = (p.chunk.source.removeprefix("beir:") for p in passages)
        return list(dict.fromkeys(ranked))  # one entry per document, best chunk first

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(mode, done, total)

    return evaluate(collection, search, on_query=tick)


def _retriever_for(container: Container, mode: str) -> tuple[Retriever, str]:
    """``hybrid:rrf@0.6`` -> a hybrid retriever fusing with RRF, dense weight 0.6."""
    base_mode, _, variant = mode.partition(":")
    fusion, _, weight = variant.partition("@")
    if base_mode not in MODES or (variant and base_mode != "hybrid"):
        raise InvalidInput(
            f"Unknown mode {mode!r}: use dense, lexical, hybrid or hybrid:<fusion>[@<weight>]."
        )
    settings = container.settings.retrieval
    try:
        dense_weight = float(weight) if weight else settings.dense_weight
    except ValueError as exc:
        raise InvalidInput(f"Bad dense weight in {mode!r}.") from exc
    config = RetrievalConfig(
        mode=base_mode,
        fusion=fusion or settings.fusion,
        dense_weight=dense_weight,
        min_score=-1.0,
        candidates=max(settings.candidates, 200),
    )
    retriever = Retriever(
        container.registry, container.store, container.lexical, container.embedder, config
    )
    return retriever, base_mode


def report_rows(report: EvalReport) -> list[list[str]]:
    """Table rows: mode then each metric to three decimals."""
    return [
        [mode, *(f"{values[m]:.3f}" for m in ("ndcg@10", "recall@10", "recall@100", "mrr@10"))]
        for mode, values in report.results.items()
    ]
