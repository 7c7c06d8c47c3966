"""Retrieval modes, filters before fusion, near-duplicates, the lexical index kept in step with
ingestion, and the reranker seam, against real Chroma, FTS5 and the bundled model."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.container import Container
from engine.retrieval.rerank import CrossEncoderReranker
from engine.retrieval.retriever import SearchFilters, SearchRequest
from ingest.sources import RawSource
from kb.errors import InvalidInput
from tests.conftest import MODEL_CACHE

DOCS = {
    "https://acme.test/help/password.html": (
        "<html><head><title>Password help</title></head><body><main>"
        "<p>If you forgot your login credentials, use the reset link on the sign-in page.</p>"
        "</main></body></html>",
        {"team": "it"},
    ),
    "https://acme.test/help/errors.md": (
        "# Error codes\n\nCode QX-9047 appears when the licence dongle is not plugged in.",
        {"team": "it"},
    ),
    "https://acme.test/hr/leave.md": (
        "# Leave\n\nParental leave is sixteen weeks at full pay.",
        {"team": "hr"},
    ),
    "notes/duplicate-a.txt": ("The cafeteria closes at 3 pm on Fridays.", {}),
    "notes/duplicate-b.txt": ("The cafeteria closes at 3 pm on Fridays!", {}),
}


@pytest.fixture
def kb(container: Container) -> str:
    kb_id = container.catalog.create_kb("acme").id
    for source, (text, tags) in DOCS.items():
        name = source.rsplit("/", 1)[-1]
        container.ingestion.ingest(
            kb_id, RawSource(text.encode(), source=source, filename=name, metadata=tags)
        )
    return kb_id


def _sources(container: Container, kb_id: str, query: str, **kwargs: object) -> list[str]:
    request = SearchRequest(query, top_k=5, min_score=-1, **kwargs)  # type: ignore[arg-type]
    return [p.chunk.source for p in container.retriever.search(kb_id, request)]


def test_dense_finds_a_paraphrase_lexical_finds_a_rare_code_hybrid_finds_both(
    container: Container, kb: str
) -> None:
    paraphrase = "I can't remember my password"
    code = "QX-9047"
    assert _sources(container, kb, paraphrase, mode="dense")[0].endswith("password.html")
    assert _sources(container, kb, code, mode="lexical") == ["https://acme.test/help/errors.md"]
    assert _sources(container, kb, paraphrase, mode="hybrid")[0].endswith("password.html")
    assert _sources(container, kb, code, mode="hybrid")[0].endswith("errors.md")


def test_hybrid_is_the_default_and_scores_are_reported(container: Container, kb: str) -> None:
    [best, *_] = container.retriever.search(kb, SearchRequest("QX-9047", min_score=-1))
    assert best.chunk.source.endswith("errors.md")
    assert best.similarity is not None and -1 <= best.similarity <= 1
    with pytest.raises(InvalidInput):
        container.retriever.search(kb, SearchRequest("x", mode="psychic"))


def test_filters_apply_before_fusion(container: Container, kb: str) -> None:
    query = "QX-9047 licence dongle"
    hr_only = SearchFilters(tags=(("team", "hr"),))
    assert _sources(container, kb, query, filters=hr_only) == ["https://acme.test/hr/leave.md"]
    prefix = SearchFilters(source_prefixes=("https://acme.test/help/",))
    assert set(_sources(container, kb, query, filters=prefix)) <= {
        "https://acme.test/help/password.html", "https://acme.test/help/errors.md"
    }  # fmt: skip
    html = SearchFilters(media_types=("text/html",))
    for mode in ("dense", "lexical", "hybrid"):
        found = _sources(container, kb, "password reset", mode=mode, filters=html)
        assert found == ["https://acme.test/help/password.html"], mode
    nothing = SearchFilters(tags=(("team", "finance"),))
    assert _sources(container, kb, query, filters=nothing) == []


def test_near_duplicates_are_returned_once(container: Container, kb: str) -> None:
    found = _sources(container, kb, "When does the cafeteria close?")
    assert sum(s.startswith("notes/duplicate") for s in found) == 1


def test_lexical_index_follows_updates_and_deletes(container: Container, kb: str) -> None:
    doc = container.ingestion.ingest(
        kb, RawSource(b"# Error codes\n\nCode ZZ-1234 means the fan failed.",
                      source="https://acme.test/help/errors.md")
    ).document  # fmt: skip
    assert _sources(container, kb, "QX-9047", mode="lexical") == []
    assert _sources(container, kb, "ZZ-1234", mode="lexical") == [doc.source]
    container.ingestion.delete_document(kb, doc.id)
    assert _sources(container, kb, "ZZ-1234", mode="lexical") == []
    container.catalog.delete_kb(kb)
    assert container.lexical.count(kb) == 0  # type: ignore[attr-defined]


def test_cross_encoder_reranker_reorders_by_its_scores(container: Container, kb: str) -> None:
    # No cross-encoder ships offline; a BERT directory loads as one (with an untrained head),
    # which is enough to prove the seam: passages come back in the model's score order.
    reranker = CrossEncoderReranker(MODEL_CACHE / "all-MiniLM-L6-v2", depth=3)
    container.retriever._reranker = reranker
    passages = container.retriever.search(kb, SearchRequest("password", top_k=5, min_score=-1))
    head = [p.score for p in passages[:3]]
    assert head == sorted(head, reverse=True)
    with pytest.raises(Exception, match="No reranker model"):
        CrossEncoderReranker(Path("/nonexistent"), 3).rerank("q", passages)


SHIPPING = (
    "Shipping notes\n\nYour parcel left our warehouse in Leeds on Monday and travels by road. "
    "Reference ORD88412. Deliveries arrive within three working days."
)
ORDER_FAQ = (
    "You can track your order from the Orders page of your account.",
    "Order numbers start with ORD followed by five digits.",
    "To cancel an order, contact support within one hour of placing it.",
    "If your order arrives damaged, send us a photo and we replace it.",
    "Your order history lists every order of the last three years.",
)


def _found(container: Container, kb_id: str, query: str, **kwargs: object) -> list[str]:
    """Sources of what passes the relevance floor (the server's unless ``min_score`` is given)."""
    request = SearchRequest(query, top_k=5, **kwargs)  # type: ignore[arg-type]
    return [p.chunk.source for p in container.retriever.search(kb_id, request)]


@pytest.fixture
def orders(container: Container, kb: str) -> str:
    """The acme knowledge base with shipping notes and an FAQ about orders added."""
    for i, text in enumerate((SHIPPING, *ORDER_FAQ)):
        source = "notes/shipping.txt" if i == 0 else f"faq/orders-{i}.txt"
        container.ingestion.ingest(kb, RawSource(text.encode(), source=source, filename="o.txt"))
    return kb


def test_an_identifier_passes_the_floor_on_lexical_evidence(
    container: Container, orders: str
) -> None:
    """Regression: the cosine floor dropped lexical hits: "Reference ORD88412" was never found."""
    for mode in ("lexical", "hybrid"):
        [best, *_] = container.retriever.search(orders, SearchRequest("ORD88412", mode=mode))
        assert best.chunk.source == "notes/shipping.txt", mode
        assert best.similarity is not None and best.similarity < 0.3  # lexical evidence alone


def test_hybrid_ranks_an_exact_identifier_match_first(container: Container, orders: str) -> None:
    """Regression: fused, the passage holding ORD88412 ranked below every passage on orders."""
    for question in ("Where is my order ORD88412?", "ORD88412 has not arrived yet"):
        assert _found(container, orders, question, mode="hybrid")[0] == "notes/shipping.txt"
    faq = _found(container, orders, "How do I track my order?", mode="hybrid")
    assert faq[0] == "faq/orders-1.txt"  # without an identifier, fusion decides as before


def test_lexical_mode_is_never_floored_by_cosine(container: Container, kb: str) -> None:
    errors = "https://acme.test/help/errors.md"
    assert _found(container, kb, "QX-9047", mode="lexical", min_score=0.99) == [errors]
    assert _found(container, kb, "QX-9047", mode="hybrid", min_score=0.99) == [errors]
    assert _found(container, kb, "QX-9047", mode="dense", min_score=0.99) == []


@pytest.mark.parametrize(
    "question",
    ["What is the full name of the Mongolian capital?", "Which code opens a bank vault?"],
)
def test_an_off_topic_question_gets_no_passage_in_any_mode(
    container: Container, kb: str, question: str
) -> None:
    """The honest "not in the knowledge base": words matching by chance are no evidence."""
    assert container.lexical.search(kb, question, 10), "the question must share a word"
    for mode in ("dense", "lexical", "hybrid"):
        assert _sources(container, kb, question, mode=mode), "there are candidates to floor"
        assert _found(container, kb, question, mode=mode) == [], mode
