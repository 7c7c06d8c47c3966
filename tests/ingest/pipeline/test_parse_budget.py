"""Parsing happens outside the knowledge base's write lock and under a time budget, against real
parse workers, Chroma, SQLite and the bundled model."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from api.container import Container
from engine.retrieval.retriever import SearchRequest
from ingest.parsers.base import ParsedDocument, ParseLimits
from ingest.parsers.isolation import ParserPool
from ingest.pipeline.batching import IngestResult
from ingest.sources import RawSource
from kb.errors import DocumentTooComplex
from kb.settings import Settings
from tests.conftest import make_settings
from tests.support.pdf_factory import make_pdf, make_slow_pdf


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A 2 s parse budget: the slow PDF needs ~30 s."""
    return make_settings(tmp_path / "data", ingest__parse_timeout_s=2.0)


class PausingParser:
    """The real parser, holding the parse of one file name until ``resume`` is set."""

    def __init__(self, inner: ParserPool, filename: str) -> None:
        self.inner, self.filename = inner, filename
        self.started, self.resume = threading.Event(), threading.Event()
        self.calls: list[str | None] = []

    def __call__(
        self, data: bytes, limits: ParseLimits, filename: str | None, declared: str | None
    ) -> ParsedDocument:
        self.calls.append(filename)
        if filename == self.filename:
            self.started.set()
            assert self.resume.wait(30)
        return self.inner(data, limits, filename, declared)

    def start(self) -> None:
        self.inner.start()

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def pausing(container: Container) -> Iterator[PausingParser]:
    service = container.ingestion
    real = service._parser
    service._parser = PausingParser(real, "held.md")  # type: ignore[assignment]
    yield service._parser  # type: ignore[misc]
    service._parser.resume.set()  # type: ignore[attr-defined]
    service._parser = real


def _in_thread(work: object) -> Future[object]:
    done: Future[object] = Future()

    def run() -> None:
        try:
            done.set_result(work())  # type: ignore[operator]
        except BaseException as exc:
            done.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return done


def test_a_slow_parse_does_not_hold_the_knowledge_base_lock(
    container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a PDF parsed for ~30 s under the write lock stalled every write to its
    knowledge base (a crawl's pages, other uploads) until it was done."""
    kb = container.catalog.create_kb("shared")
    pool = container.ingestion._parser
    parsing = threading.Event()
    real_parse = pool.parse_in_worker

    def parse_in_worker(*args: object) -> ParsedDocument:
        parsing.set()
        return real_parse(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "parse_in_worker", parse_in_worker)
    finished: list[str] = []

    def ingest_slow() -> None:
        container.ingestion.ingest(kb.id, RawSource(make_slow_pdf(), source="slow.pdf"))
        finished.append("slow.pdf")

    slow = _in_thread(ingest_slow)
    assert parsing.wait(30)

    results = container.ingestion.ingest_many(
        kb.id, [RawSource(b"Parking is free for visitors on Sundays.", source="parking.txt")]
    )
    finished.append("parking.txt")

    assert [r.outcome for r in results] == ["created"]  # type: ignore[union-attr]
    with pytest.raises(DocumentTooComplex):
        slow.result(timeout=60)
    assert finished == ["parking.txt"]


def test_a_document_over_the_parse_budget_leaves_what_was_stored(container: Container) -> None:
    kb = container.catalog.create_kb("kept")
    stored = container.ingestion.ingest(
        kb.id, RawSource(make_pdf(["Refunds are paid within 14 days."]), source="policy.pdf")
    ).document

    with pytest.raises(DocumentTooComplex) as excinfo:
        container.ingestion.ingest(kb.id, RawSource(make_slow_pdf(), source="policy.pdf"))

    assert excinfo.value.status == 422
    assert container.registry.find_document_by_source(kb.id, "policy.pdf") == stored
    hits = container.retriever.search(kb.id, SearchRequest("How fast are refunds paid?"))
    assert [h.chunk.document_id for h in hits] == [stored.id]
    assert "within 14 days" in hits[0].chunk.text


def test_a_source_stored_while_it_was_parsed_gets_the_new_chunks_without_a_second_parse(
    container: Container, pausing: PausingParser
) -> None:
    """Parsing outside the lock: another upload of the same source may be stored meanwhile;
    the parsed chunks then replace it, moved onto its document, and nothing is parsed again."""
    kb = container.catalog.create_kb("race")
    held = RawSource(b"The cafeteria opens at eight.", source="notes.md", filename="held.md")
    other = RawSource(b"The cafeteria opens at nine.", source="notes.md", filename="other.md")

    first = _in_thread(lambda: container.ingestion.ingest(kb.id, held))
    assert pausing.started.wait(30)
    meanwhile = container.ingestion.ingest(kb.id, other)  # the lock is free during the parse
    pausing.resume.set()
    result = first.result(timeout=60)

    assert isinstance(result, IngestResult)
    assert (meanwhile.outcome, result.outcome) == ("created", "updated")
    assert result.document.id == meanwhile.document.id
    assert pausing.calls == ["held.md", "other.md"]
    documents, total = container.registry.list_documents(kb.id, limit=10, offset=0)
    assert total == 1 and documents[0].content_hash == result.document.content_hash
    texts = [
        h.chunk.text
        for h in container.retriever.search(
            kb.id, SearchRequest("When does the cafeteria open?", min_score=-1)
        )
    ]
    assert texts == ["The cafeteria opens at eight."]
