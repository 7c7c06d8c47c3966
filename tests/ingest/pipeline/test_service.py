"""The ingestion pipeline against real Chroma, SQLite and the bundled model."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import pytest

from api.container import Container
from engine.retrieval.retriever import SearchRequest
from ingest.pipeline import batching
from ingest.pipeline.batching import STORE_NOW, Marker
from ingest.pipeline.service import embedding_text
from ingest.sources import RawSource
from kb.errors import EmptyDocument, KnowledgeBaseNotFound, PayloadTooLarge
from kb.models import Chunk, chunk_id
from kb.runtime.priority import thread_nice

PRICING_V1 = "# Pricing\n\nThe Basic plan costs 10 euros per month and includes email support."
PRICING_V2 = "# Pricing\n\nThe Basic plan costs 12 euros per month and includes phone support."


class CountingEmbedder:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.name = "counting"
        self.texts = 0
        self.given: list[tuple[str, Sequence[int] | None]] = []  # each text and its ids

    def embed(
        self, texts: Sequence[str], token_ids: Sequence[Sequence[int] | None] | None = None
    ) -> list[list[float]]:
        self.texts += len(texts)
        self.given += zip(texts, token_ids or [None] * len(texts), strict=True)
        return self.inner.embed(texts, token_ids)  # type: ignore[attr-defined]


@contextmanager
def failing_writes(
    container: Container, when: Callable[[Sequence[Chunk]], bool] = lambda _chunks: True
) -> Iterator[None]:
    """The store writes chunks, then fails ("disk full") for those ``when`` picks."""
    store = container.store
    real_add = store.add

    def add(
        kb_id: str, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]], **kw: object
    ) -> None:
        real_add(kb_id, chunks, vectors, **kw)  # type: ignore[arg-type]
        if when(chunks):
            raise OSError("disk full")

    store.add = add  # type: ignore[method-assign]
    try:
        yield
    finally:
        del store.add  # type: ignore[method-assign]


def _search(container: Container, kb_id: str, query: str) -> list[str]:
    hits = container.retriever.search(kb_id, SearchRequest(query, top_k=5, min_score=-1))
    return [h.chunk.text for h in hits]


def test_same_content_again_is_unchanged_and_not_re_embedded(container: Container) -> None:
    kb = container.catalog.create_kb("docs")
    counting = CountingEmbedder(container.embedder)
    container.ingestion._embedder = counting  # type: ignore[assignment]
    raw = RawSource(PRICING_V1.encode(), source="pricing.md", filename="pricing.md")

    first = container.ingestion.ingest(kb.id, raw)
    embedded_once = counting.texts
    second = container.ingestion.ingest(kb.id, raw)

    assert first.outcome == "created" and second.outcome == "unchanged"
    assert second.document.id == first.document.id
    assert counting.texts == embedded_once > 0
    assert container.catalog.get_kb(kb.id).document_count == 1


def test_new_content_for_a_source_replaces_the_old_version(container: Container) -> None:
    kb = container.catalog.create_kb("docs")
    first = container.ingestion.ingest(kb.id, RawSource(PRICING_V1.encode(), source="pricing.md"))
    second = container.ingestion.ingest(kb.id, RawSource(PRICING_V2.encode(), source="pricing.md"))

    assert second.outcome == "updated"
    assert second.document.id == first.document.id
    texts = _search(container, kb.id, "How much does the Basic plan cost?")
    assert any("12 euros" in t for t in texts)
    assert not any("10 euros" in t for t in texts)
    # The old version's vectors are gone, not merely hidden.
    assert container.store.count(kb.id) == second.document.chunk_count  # type: ignore[attr-defined]


def test_failure_half_way_leaves_old_version_searchable(container: Container) -> None:
    kb = container.catalog.create_kb("docs")
    container.ingestion.ingest(kb.id, RawSource(PRICING_V1.encode(), source="pricing.md"))
    with failing_writes(container), pytest.raises(OSError):
        container.ingestion.ingest(kb.id, RawSource(PRICING_V2.encode(), source="pricing.md"))

    texts = _search(container, kb.id, "How much does the Basic plan cost?")
    assert any("10 euros" in t for t in texts)
    assert not any("12 euros" in t for t in texts)
    doc = container.catalog.list_documents(kb.id, 10, 0)[0][0]
    assert "10 euros" in " ".join(c.text for c in container.catalog.document_chunks(kb.id, doc.id))


def test_stale_chunks_of_an_unfinished_version_are_never_served(container: Container) -> None:
    """Chunks written by a crashed ingestion (no cleanup ran) stay invisible to search."""
    kb = container.catalog.create_kb("docs")
    doc = container.ingestion.ingest(kb.id, RawSource(PRICING_V1.encode(), source="p.md")).document
    orphan = Chunk(
        id=f"{doc.id}:deadbeefdeadbeef:0",
        kb_id=kb.id,
        document_id=doc.id,
        version="deadbeefdeadbeef",
        index=0,
        text="The Basic plan costs 99 euros per month.",
        title="Pricing",
        source="p.md",
        media_type="text/markdown",
        start_char=0,
        end_char=40,
    )
    container.store.add(kb.id, [orphan], container.embedder.embed([orphan.text]))
    texts = _search(container, kb.id, "How much does the Basic plan cost?")
    assert texts and not any("99 euros" in t for t in texts)


def test_delete_removes_record_and_vectors(container: Container) -> None:
    kb = container.catalog.create_kb("docs")
    doc = container.ingestion.ingest(kb.id, RawSource(PRICING_V1.encode(), source="p.md")).document
    container.ingestion.delete_document(kb.id, doc.id)
    assert container.catalog.list_documents(kb.id, 10, 0) == ([], 0)
    assert container.store.count(kb.id) == 0  # type: ignore[attr-defined]
    assert _search(container, kb.id, "Basic plan") == []


def test_knowledge_bases_are_isolated(container: Container) -> None:
    a = container.catalog.create_kb("a")
    b = container.catalog.create_kb("b")
    container.ingestion.ingest(a.id, RawSource(PRICING_V1.encode(), source="p.md"))
    container.ingestion.ingest(b.id, RawSource(b"Llamas live in the Andes mountains.", source="x"))
    assert all("Llamas" not in t for t in _search(container, a.id, "Where do llamas live?"))
    assert all("euros" not in t for t in _search(container, b.id, "Basic plan price"))


def test_refused_input_stores_nothing(container: Container) -> None:
    kb = container.catalog.create_kb("docs")
    with pytest.raises(EmptyDocument):
        container.ingestion.ingest(kb.id, RawSource(b"   \n ", source="empty.txt"))
    container.ingestion._max_bytes = 10
    with pytest.raises(PayloadTooLarge):
        container.ingestion.ingest(kb.id, RawSource(b"x" * 11, source="big.txt"))
    assert container.catalog.list_documents(kb.id, 10, 0) == ([], 0)
    with pytest.raises(KnowledgeBaseNotFound):
        container.ingestion.ingest("kb_missing", RawSource(b"text here", source="t"))


def test_chunks_keep_document_title_source_and_offsets(container: Container) -> None:
    kb = container.catalog.create_kb("docs")
    text = "# Guide\n\n" + " ".join(f"Sentence number {i} explains step {i}." for i in range(300))
    doc = container.ingestion.ingest(kb.id, RawSource(text.encode(), source="guide.md")).document
    chunks = container.catalog.document_chunks(kb.id, doc.id)
    assert doc.chunk_count == len(chunks) > 3
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.title == "Guide" and chunk.source == "guide.md"
        assert chunk.document_id == doc.id
        assert text[chunk.start_char : chunk.end_char] == chunk.text


def test_passages_reach_the_embedder_with_the_chunkers_token_ids(container: Container) -> None:
    """Each passage's ids come from its section's one tokenisation (with the title's and
    heading's above it) and are exactly the tokenizer's for the text embedded, so the model
    need not tokenise it again; the vectors are those of the texts."""
    kb = container.catalog.create_kb("docs")
    counting = CountingEmbedder(container.embedder)
    container.ingestion._embedder = counting  # type: ignore[assignment]
    step = "Step {}: naïve café «setup», emoji 🎉 and 漢字 — see §{}."
    body = " ".join(step.format(i, i) for i in range(60))
    text = f"# Install guide\n\n{body}\n\n## Upgrades\n\n{body}\n\nPlain end."
    doc = container.ingestion.ingest(
        kb.id, RawSource(text.encode(), source="guide.md", title="Ünïcode Guide")
    ).document

    embedder = container.embedder
    assert len(counting.given) == doc.chunk_count > 4
    assert all(ids is not None for _text, ids in counting.given)
    for embedded, ids in counting.given:
        assert embedded.startswith("Ünïcode Guide\n")
        assert list(ids or ()) == embedder.count_tokens(embedded), embedded
    # Some passages continue a section below its heading, which is embedded above them.
    assert any("\nUpgrades\n" in embedded for embedded, _ids in counting.given)
    ids = [chunk_id(doc.id, doc.version, i) for i in range(doc.chunk_count)]
    stored = container.store.get(kb.id, ids)
    texts = [embedding_text(chunk) for chunk, _vector in stored]
    assert texts == [embedded for embedded, _ids in counting.given]
    alone = embedder.embed(texts)  # tokenised by the model
    for (_chunk, vector), again in zip(stored, alone, strict=True):
        assert sum(a * b for a, b in zip(vector, again, strict=True)) > 0.999


def test_ingest_many_batches_reports_each_source_and_keeps_vectors_straight(
    container: Container,
) -> None:
    kb = container.catalog.create_kb("many")
    animals = ["cat", "dog", "horse", "parrot", "goldfish", "rabbit", "turtle", "hamster"]
    raws = [
        RawSource(f"The {a} named Rex{i} lives in room {100 + i}.".encode(), source=f"{a}.txt")
        for i, a in enumerate(animals)
    ]
    raws.insert(3, RawSource(b"", source="empty.txt"))
    raws.append(RawSource(b"The cat named Rex0 moved to room 999.", source="cat.txt"))
    seen: list[str] = []

    results = container.ingestion.ingest_many(
        kb.id, raws, on_done=lambda raw, _outcome: seen.append(raw.source), batch_chunks=3
    )

    assert seen == [r.source for r in raws]
    assert isinstance(results[3], EmptyDocument)
    outcomes = [r.outcome for r in results if not isinstance(r, EmptyDocument)]
    assert outcomes == ["created"] * 8 + ["updated"]
    assert container.catalog.get_kb(kb.id).document_count == 8
    for i, animal in enumerate(animals[1:], start=1):
        top = container.retriever.search(
            kb.id, SearchRequest(f"Which room does the {animal} live in?")
        )
        assert top[0].chunk.source == f"{animal}.txt"
        assert f"room {100 + i}" in top[0].chunk.text
    cat = container.retriever.search(kb.id, SearchRequest("Which room is the cat in?"))
    assert "room 999" in cat[0].chunk.text


def test_ingest_many_rechecks_sources_prepared_ahead_that_changed_meanwhile(
    container: Container,
) -> None:
    """Sources are prepared ahead, outside the lock: another upload of the same source in
    between must be replaced by the prepared copy, not joined by a second document."""
    kb = container.catalog.create_kb("race")

    def sources() -> Iterator[RawSource]:
        yield RawSource(PRICING_V1.encode(), source="pricing.md")
        time.sleep(0.5)  # the worker has prepared pricing.md against "no document yet"
        container.ingestion.ingest(kb.id, RawSource(PRICING_V2.encode(), source="pricing.md"))
        yield RawSource(b"Support answers within one business day.", source="support.md")

    results = container.ingestion.ingest_many(kb.id, sources())

    assert [r.outcome for r in results] == ["updated", "created"]  # type: ignore[union-attr]
    documents, total = container.registry.list_documents(kb.id, limit=10, offset=0)
    assert total == 2
    assert sorted(d.source for d in documents) == ["pricing.md", "support.md"]
    texts = _search(container, kb.id, "How much does the Basic plan cost?")
    assert any("10 euros" in t for t in texts) and not any("12 euros" in t for t in texts)


def test_an_edited_document_re_embeds_only_the_passages_that_changed(
    container: Container,
) -> None:
    kb = container.catalog.create_kb("edits")
    topics = ["Pricing", "Support", "Security", "Refunds", "Shipping", "Careers"]
    sections = {
        t: f"# {t}\n\nEverything about {t.lower()} is explained here in detail." for t in topics
    }
    counting = CountingEmbedder(container.embedder)
    container.ingestion._embedder = counting  # type: ignore[assignment]

    def page() -> bytes:
        return "\n\n".join(sections.values()).encode()

    first = container.ingestion.ingest(kb.id, RawSource(page(), source="handbook.md"))
    assert counting.texts == first.document.chunk_count == len(topics)
    sections["Refunds"] = "# Refunds\n\nRefunds are paid back within 14 days of the return."
    counting.texts = 0
    second = container.ingestion.ingest(kb.id, RawSource(page(), source="handbook.md"))

    assert second.outcome == "updated" and counting.texts == 1
    refunds = _search(container, kb.id, "How fast are refunds paid back?")
    assert "within 14 days" in refunds[0]
    assert any("about careers" in t for t in _search(container, kb.id, "careers"))
    assert not any("about refunds" in t for t in _search(container, kb.id, "refunds"))


def test_ingest_many_applies_repeated_sources_in_order(container: Container) -> None:
    """pricing.md is stored as v1; the call sends v2, then v1 again, which is looked at ahead
    (and found unchanged) before v2 is stored: the later copy must still win."""
    kb = container.catalog.create_kb("order")
    container.ingestion.ingest(kb.id, RawSource(PRICING_V1.encode(), source="pricing.md"))
    fillers = [
        RawSource(f"Note {i}: offices close at {i} pm.".encode(), source=f"n{i}.txt")
        for i in range(5)
    ]
    raws = [
        RawSource(PRICING_V2.encode(), source="pricing.md"),
        *fillers,
        RawSource(PRICING_V1.encode(), source="pricing.md"),
    ]

    results = container.ingestion.ingest_many(kb.id, raws, batch_chunks=2)

    outcomes = [r.outcome for r in results]  # type: ignore[union-attr]
    assert outcomes == ["updated"] + ["created"] * 5 + ["updated"]
    texts = _search(container, kb.id, "How much does the Basic plan cost?")
    assert any("10 euros" in t for t in texts) and not any("12 euros" in t for t in texts)


def test_ingest_many_stores_a_batch_while_embedding_the_next_and_reports_in_order(
    container: Container,
) -> None:
    """Three stages at once: a batch is written (on another thread, under the lock) while the
    next one is embedded; results still reach ``on_done`` in the order of the sources, a
    source that fails at once included."""
    kb = container.catalog.create_kb("overlap")
    spans: dict[str, list[tuple[float, float, int]]] = {"embed": [], "add": []}
    embedder, store = container.ingestion._embedder, container.store
    real_embed, real_add = embedder.embed, store.add

    def timed(kind: str, call: object, *args: object, **kw: object) -> object:
        start = time.monotonic()
        time.sleep(0.15)  # long enough for the stages to meet
        result = call(*args, **kw)  # type: ignore[operator]
        spans[kind].append((start, time.monotonic(), threading.get_native_id()))
        return result

    embedder.embed = lambda *a, **kw: timed("embed", real_embed, *a, **kw)  # type: ignore[method-assign]
    store.add = lambda *a, **kw: timed("add", real_add, *a, **kw)  # type: ignore[method-assign]
    raws = [
        RawSource(f"Room {100 + i} is on floor {i}.".encode(), source=f"r{i}.txt") for i in range(4)
    ]
    raws.insert(2, RawSource(b"", source="empty.txt"))
    seen: list[str] = []
    try:
        results = container.ingestion.ingest_many(
            kb.id, raws, on_done=lambda raw, _outcome: seen.append(raw.source), batch_chunks=1
        )
    finally:
        del embedder.embed, store.add  # type: ignore[method-assign]

    assert seen == [r.source for r in raws]
    assert isinstance(results[2], EmptyDocument)
    assert [r.outcome for r in results if not isinstance(r, EmptyDocument)] == ["created"] * 4
    assert len(spans["add"]) == 4
    assert {t for _, _, t in spans["add"]}.isdisjoint({t for _, _, t in spans["embed"]})
    assert any(a0 < e1 and e0 < a1 for a0, a1, _ in spans["add"] for e0, e1, _ in spans["embed"]), (
        "no batch was written while another was embedded"
    )
    assert "floor 3" in _search(container, kb.id, "Which floor is room 103 on?")[0]


def test_the_parse_worker_keeps_its_lookahead_while_batches_are_embedded(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources are taken and handed to the parse worker one for each handled, so the worker
    keeps a lookahead of sources to parse while batches are embedded; handling every ready
    source first (batch after batch) left it idle, and the last sources to parse at the end
    while the model waited."""
    monkeypatch.setattr(batching, "LOOKAHEAD", 8)
    kb = container.catalog.create_kb("lookahead")
    count = 40
    taken: list[int] = []
    embedded: list[int] = []
    ahead_at_embed: list[tuple[int, int]] = []  # (sources taken, taken but not yet embedded)
    service = container.ingestion
    real_prepare, real_vectors = service.prepare_ahead, service.vectors

    def sources() -> Iterator[RawSource]:
        for i in range(count):
            taken.append(i)
            yield RawSource(f"Room {100 + i} is on floor {i}.".encode(), source=f"r{i}.txt")

    def prepare_ahead(kb_id: str, raw: RawSource) -> object:
        if raw.source == "r0.txt":  # a slow first source: the lookahead fills meanwhile
            deadline = time.monotonic() + 10
            while len(taken) <= batching.LOOKAHEAD and time.monotonic() < deadline:
                time.sleep(0.005)
        return real_prepare(kb_id, raw)

    def vectors(kb_id: str, prepared: list[object]) -> object:
        embedded.append(len(prepared))
        ahead_at_embed.append((len(taken), len(taken) - sum(embedded)))
        return real_vectors(kb_id, prepared)  # type: ignore[arg-type]

    service.prepare_ahead = prepare_ahead  # type: ignore[method-assign,assignment]
    service.vectors = vectors  # type: ignore[method-assign,assignment]
    try:
        results = service.ingest_many(kb.id, sources(), batch_chunks=3)
    finally:
        del service.prepare_ahead, service.vectors  # type: ignore[method-assign]

    assert [r.outcome for r in results] == ["created"] * count  # type: ignore[union-attr]
    assert sum(embedded) == count
    # Until the sources ran out, each batch was embedded with the lookahead's worth of sources
    # beyond it taken and handed on.
    before_the_end = [ahead for taken_then, ahead in ahead_at_embed if taken_then < count]
    assert len(before_the_end) >= 5
    assert min(before_the_end) >= batching.LOOKAHEAD - 3, ahead_at_embed


def test_store_now_stores_and_reports_what_came_so_far_before_taking_more(
    container: Container,
) -> None:
    """A caller whose sources trickle in (a crawl) yields ``STORE_NOW``: what it sent so far is
    then searchable and reported before it is asked for the next source, though far from a
    full batch."""
    kb = container.catalog.create_kb("store-now")
    reported: list[str] = []
    found_before_more: list[list[str]] = []

    def sources() -> Iterator[RawSource | Marker]:
        yield RawSource(b"Room 101 is on the first floor.", source="r1.txt")
        yield RawSource(b"Parking is free for visitors.", source="parking.txt")
        yield STORE_NOW
        found_before_more.append(list(reported))
        found_before_more.append(_search(container, kb.id, "Where is room 101?"))
        yield STORE_NOW  # nothing pending: no effect
        yield RawSource(b"Room 202 is on the second floor.", source="r2.txt")

    results = container.ingestion.ingest_many(
        kb.id, sources(), on_done=lambda raw, _outcome: reported.append(raw.source)
    )

    assert found_before_more[0] == ["r1.txt", "parking.txt"]
    assert "first floor" in found_before_more[1][0]
    assert [r.outcome for r in results] == ["created"] * 3  # markers have no result
    assert reported == ["r1.txt", "parking.txt", "r2.txt"]
    assert "second floor" in _search(container, kb.id, "Where is room 202?")[0]


def test_a_failed_write_in_ingest_many_raises_and_keeps_the_old_version(
    container: Container,
) -> None:
    kb = container.catalog.create_kb("write-fails")
    container.ingestion.ingest(kb.id, RawSource(PRICING_V1.encode(), source="pricing.md"))
    raws = [
        RawSource(b"Support answers within one business day.", source="support.md"),
        RawSource(PRICING_V2.encode(), source="pricing.md"),
    ]
    with (
        failing_writes(container, when=lambda chunks: any("12 euros" in c.text for c in chunks)),
        pytest.raises(OSError, match="disk full"),
    ):
        container.ingestion.ingest_many(kb.id, raws, batch_chunks=1)

    texts = _search(container, kb.id, "How much does the Basic plan cost?")
    assert any("10 euros" in t for t in texts) and not any("12 euros" in t for t in texts)
    assert _search(container, kb.id, "How fast does support answer?")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_ingestion_runs_at_background_priority_and_leaves_the_caller_alone(
    container: Container,
) -> None:
    """Ingestion yields the CPU to searches (KB_INGEST__BACKGROUND_NICE, 10 by default): it runs
    on threads at that nice value, and the calling thread, which may serve searches next,
    keeps its own priority."""
    kb = container.catalog.create_kb("priority")
    ran_at: list[tuple[int, int]] = []

    def done(_raw: RawSource, _outcome: object) -> None:
        ran_at.append((threading.get_native_id(), thread_nice()))

    raws = [RawSource(f"Page {i} about billing.".encode(), source=f"p{i}.txt") for i in range(3)]
    container.ingestion.ingest_many(kb.id, raws, on_done=done)
    single = container.ingestion.ingest(kb.id, RawSource(b"One more page.", source="one.txt"))

    assert single.outcome == "created"
    assert {nice for _, nice in ran_at} == {10}
    assert threading.get_native_id() not in {tid for tid, _ in ran_at}
    assert thread_nice() == 0
    assert _search(container, kb.id, "billing")
