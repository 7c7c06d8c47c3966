"""The relevance floor's lexical half, on the real FTS5 index: term coverage weighted by IDF,
identifiers, and off-topic questions whose words match only by chance."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.retrieval.relevance import RelevanceFloor, is_distinctive
from kb.index.lexical import LexicalHit, SqliteLexicalIndex
from kb.models import Chunk

FLOOR = RelevanceFloor(dense=0.3, lexical=0.75)
TEXTS = {
    "order": "Your parcel left the warehouse on Monday. Reference ORD88412 is on the label.",
    "leave": "Since 2024, parental leave is sixteen weeks at full pay.",
    "capital": "Capital expenditure above 5,000 euros needs the board's approval.",
    "garage": "Visitors park in the blue garage; the garage closes at midnight.",
}


def _chunk(name: str, text: str) -> Chunk:
    return Chunk(
        id=f"{name}:v1:0", kb_id="kb_1", document_id=name, version="v1", index=0, text=text,
        title="", source=f"{name}.txt", media_type="text/plain", start_char=0,
        end_char=len(text),
    )  # fmt: skip


@pytest.fixture
def index(tmp_path: Path) -> SqliteLexicalIndex:
    idx = SqliteLexicalIndex(tmp_path / "lexical.sqlite3")
    idx.add("kb_1", [_chunk(name, text) for name, text in TEXTS.items()])
    return idx


def _vouched(index: SqliteLexicalIndex, query: str) -> list[str]:
    return [h.document_id for h in index.search("kb_1", query, 10) if FLOOR.vouched_by_lexical(h)]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ord88412", True),
        ("sku4471", True),
        ("88412", True),
        ("qx9047", True),
        ("2024", False),  # a year
        ("10am", False),
        ("21st", False),
        ("a4", False),
        ("garage", False),
    ],
)
def test_identifiers_are_tokens_with_several_digits(term: str, expected: bool) -> None:
    assert is_distinctive(term) is expected


def test_hits_report_the_query_terms_they_contain_weighted_by_rarity(
    index: SqliteLexicalIndex,
) -> None:
    [hit] = index.search("kb_1", "Which order has reference ORD88412?", 10)
    assert hit.document_id == "order"
    # "order" is in no passage, "reference" and ORD88412 are in this one alone.
    assert set(hit.matched) == {"reference", "ord88412"}
    assert 0.3 < hit.coverage < 0.75
    [garage] = index.search("kb_1", "garage closing", 10)
    assert garage.coverage == pytest.approx(1.0)  # "closing" and "closes" stem alike


def test_an_identifier_or_the_whole_query_is_strong_lexical_evidence(
    index: SqliteLexicalIndex,
) -> None:
    assert _vouched(index, "ORD88412") == ["order"]
    assert _vouched(index, "status of ORD88412") == ["order"]  # "status" is in no passage
    assert _vouched(index, "When does the garage close?") == ["garage"]
    assert _vouched(index, "parental leave weeks") == ["leave"]


def test_a_word_matching_by_chance_is_no_evidence(index: SqliteLexicalIndex) -> None:
    """An off-topic question sharing one word with a passage still finds nothing."""
    for question in (
        "What is the capital of Mongolia?",
        "Is it a full moon tonight?",
        "Which parking apps work in 2024?",
    ):
        assert index.search("kb_1", question, 10), "the question must share a word"
        assert _vouched(index, question) == [], question


def test_function_words_alone_are_no_evidence(index: SqliteLexicalIndex) -> None:
    hits = index.search("kb_1", "is it on the", 10)
    # Stop words are not indexed: nothing matches, or nothing that counts as evidence.
    assert all(h.coverage == 0 and h.matched == () for h in hits)
    assert _vouched(index, "is it on the") == []


def test_the_floors_are_independent() -> None:
    weak = LexicalHit("c", "d", "v", 1.0, matched=("capital",), coverage=0.4)
    assert not FLOOR.vouched_by_lexical(weak)
    assert RelevanceFloor(dense=0.3, lexical=0.0).vouched_by_lexical(weak)
    assert FLOOR.vouched_by_dense(0.3) and not FLOOR.vouched_by_dense(0.29)
