"""Each knowledge base's embedding model: recorded, used, enforced, and changed by re-indexing
while the old index serves (real Chroma, real MiniLM and multilingual-e5-small)."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.container import Container, build_container
from engine.retrieval.retriever import SearchRequest
from ingest.sources import RawSource
from kb.db.indexes import ReindexJobRow
from kb.embeddings.base import TokenizingEmbedder
from kb.embeddings.catalog import E5_SMALL, MINILM, EmbedderOptions, load_embedder
from kb.errors import EmbeddingModelMismatch, InvalidInput, ReindexInProgress
from kb.index_models import EmbedderPool
from kb.settings import Settings
from tests.conftest import MODEL_CACHE, make_settings

DOCS = {
    "rooms.txt": "The meeting room Atlas is on the third floor, next to the kitchen.",
    "parking.txt": "Visitors park in the underground car park, level minus two.",
    "tarifs.txt": "L'abonnement mensuel coûte douze euros et se résilie à tout moment.",
}


@pytest.fixture(scope="module")
def e5() -> TokenizingEmbedder:
    """The real bundled multilingual-e5-small, loaded once for the module."""
    model = load_embedder(E5_SMALL, EmbedderOptions(cache_dir=MODEL_CACHE))
    model.embed(["warm up"])
    return model


class Gated:
    """A real embedder whose ``embed`` waits for ``gate`` (or fails when ``fail`` is set)."""

    def __init__(self, inner: TokenizingEmbedder) -> None:
        self.inner, self.name, self.fingerprint = inner, inner.name, inner.fingerprint
        self.gate, self.entered, self.fail = threading.Event(), threading.Event(), False

    def embed(self, texts: Sequence[str], token_ids: object = None, **kw: object) -> object:
        self.entered.set()
        assert self.gate.wait(30), "the test never opened the gate"
        if self.fail:
            raise RuntimeError("embedding crashed")
        return self.inner.embed(texts, **kw)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)


def _container(settings: Settings, *embedders: object, batch: int | None = None) -> Container:
    pool = EmbedderPool(EmbedderOptions.from_settings(settings), embedders)  # type: ignore[arg-type]
    built = build_container(settings, embedders=pool)
    if batch is not None:
        built.reindex._batch = batch
    return built


@pytest.fixture
def built(
    tmp_path: Path, embedder: TokenizingEmbedder, e5: TokenizingEmbedder
) -> Iterator[Container]:
    container = _container(make_settings(tmp_path / "data"), embedder, e5)
    yield container
    container.close()


def _fill(container: Container, kb_id: str) -> None:
    for name, text in DOCS.items():
        container.ingestion.ingest(kb_id, RawSource(text.encode(), source=name, filename=name))


def _top(container: Container, kb_id: str, query: str) -> str:
    hits = container.retriever.search(kb_id, SearchRequest(query, top_k=1, mode="dense"))
    return hits[0].chunk.source if hits else ""


def _collections(container: Container) -> set[str]:
    return {str(c.name) for c in container.store._client.list_collections()}  # type: ignore[attr-defined]


def test_a_kb_created_with_a_model_is_indexed_and_searched_with_it(
    built: Container, e5: TokenizingEmbedder
) -> None:
    kb = built.catalog.create_kb("fr", embedding_model=E5_SMALL)
    default = built.catalog.create_kb("en")
    _fill(built, kb.id)

    index = built.catalog.index_of(kb.id)
    assert index is not None and index.model == E5_SMALL and index.fingerprint == e5.fingerprint
    assert built.catalog.index_of(default.id).model == MINILM  # type: ignore[union-attr]
    assert built.indexes.bound(kb.id).embedder is e5
    # Its collection is tagged with the model; E5's floor (not MiniLM's 0.3) applies.
    tags = built.store._client.get_collection(kb.id).metadata  # type: ignore[attr-defined]
    assert tags["embedding_fingerprint"] == e5.fingerprint
    assert built.indexes.bound(kb.id).relevance_floor > 0.5
    assert _top(built, kb.id, "Combien coûte l'abonnement ?") == "tarifs.txt"


def test_an_unknown_bundled_model_is_refused_before_the_kb_is_made(built: Container) -> None:
    with pytest.raises(InvalidInput):
        built.catalog.create_kb("x", embedding_model="bundled:no-such-model")
    assert built.catalog.resolve_kb("x") is None


def test_a_kb_refuses_vectors_of_another_model(built: Container, e5: TokenizingEmbedder) -> None:
    kb = built.catalog.create_kb("en")
    _fill(built, kb.id)
    [vector] = e5.embed(["meeting room"], kind="query")

    with pytest.raises(EmbeddingModelMismatch) as refused:
        built.store.query(kb.id, vector, k=3, embedded_by=e5.fingerprint)
    assert refused.value.status == 409 and refused.value.code == "embedding_model_mismatch"
    with pytest.raises(EmbeddingModelMismatch):  # another size, whoever made it
        built.store.query(kb.id, [0.1] * 768, k=3)
    with pytest.raises(EmbeddingModelMismatch):  # writes too
        chunk = built.catalog.document_chunks(
            kb.id, built.catalog.list_documents(kb.id, 1, 0)[0][0].id
        )
        built.store.add(kb.id, chunk, [vector], embedded_by=e5.fingerprint)


def test_reindex_switches_models_while_the_old_index_serves(
    tmp_path: Path, embedder: TokenizingEmbedder, e5: TokenizingEmbedder
) -> None:
    gated = Gated(e5)
    container = _container(make_settings(tmp_path / "data"), embedder, gated, batch=1)
    try:
        kb = container.catalog.create_kb("docs")
        _fill(container, kb.id)
        old = container.catalog.index_of(kb.id)
        job = container.reindex.start(kb.id, E5_SMALL)
        assert gated.entered.wait(30)

        # Mid-job: the old model's index answers, and a second job is refused.
        running = container.reindex.get(kb.id, job.id)
        assert running.status == "running" and running.total == 3 and running.done == 0
        assert container.catalog.index_of(kb.id) == old
        assert _top(container, kb.id, "Where do visitors park?") == "parking.txt"
        with pytest.raises(ReindexInProgress):
            container.reindex.start(kb.id, E5_SMALL)
        # An upload during the job reaches the new index too (the job catches up).
        late = "The library opens at nine and lends books for three weeks."
        container.ingestion.ingest(kb.id, RawSource(late.encode(), source="library.txt"))

        gated.gate.set()
        assert container.reindex.wait(job.id, timeout=120)
        done = container.reindex.get(kb.id, job.id)
        assert (done.status, done.done, done.total) == ("done", 4, 4)
        new = container.catalog.index_of(kb.id)
        assert new is not None and new.model == E5_SMALL and new.collection == job.collection
        assert old is not None and old.collection not in _collections(container)
        assert _top(container, kb.id, "When does the library open?") == "library.txt"
        assert _top(container, kb.id, "Combien coûte l'abonnement ?") == "tarifs.txt"
        # Uploads after the switch are embedded by the new model.
        container.ingestion.ingest(kb.id, RawSource(b"Le parking ferme a minuit.", source="p.txt"))
        assert _top(container, kb.id, "À quelle heure ferme le parking ?") == "p.txt"
        # Crash recovery sees the new collection as the knowledge base's index: nothing to fix.
        assert container.reconciler.run().clean
    finally:
        gated.gate.set()
        container.close()


@pytest.mark.parametrize("ending", ["failed", "cancelled"])
def test_a_reindex_that_fails_or_is_cancelled_leaves_the_old_index_serving(
    tmp_path: Path, embedder: TokenizingEmbedder, e5: TokenizingEmbedder, ending: str
) -> None:
    gated = Gated(e5)
    container = _container(make_settings(tmp_path / "data"), embedder, gated, batch=1)
    try:
        kb = container.catalog.create_kb("docs")
        _fill(container, kb.id)
        old = container.catalog.index_of(kb.id)
        job = container.reindex.start(kb.id, E5_SMALL)
        assert gated.entered.wait(30)
        assert job.collection in _collections(container)
        if ending == "failed":
            gated.fail = True
        else:
            container.reindex.cancel(kb.id, job.id)
        gated.gate.set()
        assert container.reindex.wait(job.id, timeout=60)

        assert container.reindex.get(kb.id, job.id).status == ending
        assert container.catalog.index_of(kb.id) == old
        assert job.collection not in _collections(container)
        assert _top(container, kb.id, "Where do visitors park?") == "parking.txt"
    finally:
        gated.gate.set()
        container.close()


def test_a_job_whose_process_died_is_marked_failed_and_its_collection_dropped(
    built: Container,
) -> None:
    """A crash mid-reindex (no thread, no heartbeat) must not block the next re-index."""
    kb = built.catalog.create_kb("docs")
    _fill(built, kb.id)
    job = built.indexes.records.start_job(kb.id, E5_SMALL, f"{kb.id}-dead0001")
    built.store.create_collection(job.collection, E5_SMALL, "x", 384)
    built.indexes.records.update_job(job.id, status="running")
    with built.registry._sessions.begin() as session:  # type: ignore[attr-defined]
        row = session.get(ReindexJobRow, job.id)
        row.heartbeat_at = datetime.now(UTC) - timedelta(hours=1)

    found = built.reindex.get(kb.id, job.id)
    assert found.status == "failed" and "interrupted" in (found.error or "")
    assert job.collection not in _collections(built)
    assert _top(built, kb.id, "Where do visitors park?") == "parking.txt"


def test_a_kb_of_an_older_release_is_recorded_as_filled_by_the_configured_model(
    built: Container, embedder: TokenizingEmbedder
) -> None:
    """A knowledge base with no index record (made before models were recorded) still works."""
    kb = built.registry.create_kb("legacy")  # no record, as an older release left it
    assert built.indexes.records.get(kb.id) is None
    _fill(built, kb.id)

    index = built.catalog.index_of(kb.id)
    assert index is not None and (index.model, index.collection) == (MINILM, kb.id)
    assert index.fingerprint == embedder.fingerprint
    assert _top(built, kb.id, "Where do visitors park?") == "parking.txt"


def test_a_kb_of_an_older_release_stays_minilm_when_the_default_changed(
    tmp_path: Path,
    embedder: TokenizingEmbedder,
    e5: TokenizingEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Upgrade bug: an index without a record was adopted under today's default (E5) although
    an older release, whose default was MiniLM, filled it: same dimension, garbage results."""
    monkeypatch.delenv("KB_EMBEDDING__MODEL", raising=False)
    settings = Settings(
        storage={"data_dir": tmp_path / "data"}, embedding={"cache_dir": MODEL_CACHE}
    )
    assert settings.embedding.model == E5_SMALL  # the default, not set explicitly
    container = _container(settings, embedder, e5)
    try:
        kb = container.registry.create_kb("legacy")  # no record, as an older release left it
        index = container.catalog.index_of(kb.id)
        assert index is not None and index.model == MINILM
        assert container.catalog.create_kb("new").id != kb.id
        fresh = container.catalog.index_of(container.registry.find_kb("new").id)  # type: ignore[union-attr]
        assert fresh is not None and fresh.model == E5_SMALL
    finally:
        container.close()
