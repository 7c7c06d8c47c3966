"""Streamed answers: markers checked on the fly, and the same result as the JSON answer."""

from __future__ import annotations

import pytest

from api.container import Container
from engine.question import Question
from engine.streaming import Delta, Finished, MarkerFilter
from ingest.sources import RawSource


def _filtered(pieces: list[str], passages: int) -> str:
    markers = MarkerFilter(passages)
    return "".join(markers.feed(p) for p in pieces) + markers.flush()


def test_markers_split_across_pieces_are_checked() -> None:
    pieces = ["Staff park [", "1]. See [", "4", "] and [2", "]."]
    assert _filtered(pieces, 2) == "Staff park [1]. See  and [2]."


@pytest.mark.parametrize("text", ["a [x] b", "[[1]", "list [1, 2]", "ends with ["])
def test_brackets_that_are_not_markers_pass_through(text: str) -> None:
    assert _filtered(list(text), 1) == text


def test_stream_ends_with_the_same_answer_as_answer(container: Container) -> None:
    kb = container.catalog.create_kb("office")
    text = b"# Parking\n\nStaff parking is on level minus two. Visitors park outside."
    container.ingestion.ingest(kb.id, RawSource(text, source="parking.md"))
    events = list(container.queries.stream(Question(kb.id, "Where do staff park?")))
    assert all(isinstance(e, Delta) for e in events[:-1])
    final = events[-1]
    assert isinstance(final, Finished)
    assert final.answer == container.queries.answer(Question(kb.id, "Where do staff park?"))
