"""Parsing in worker processes under a time budget: real pypdf and BeautifulSoup in real workers."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from ingest.parsers.base import ParseLimits
from ingest.parsers.isolation import ParserPool
from ingest.parsers.sniff import HTML, PDF, PLAIN
from kb.errors import (
    CorruptDocument,
    DocumentTooComplex,
    UnprocessableDocument,
)
from tests.support.pdf_factory import make_pdf, make_slow_pdf

BUDGET = ParseLimits(parse_timeout_s=1.5)
# ~24 KB of nested <pre> blocks: BeautifulSoup and the layout pass take ~35 s (quadratic in depth).
NESTED_HTML = b"<html><body>" + b"<pre>x" * 4000 + b"</body></html>"


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    workers = ParserPool(workers=2)
    workers.start()
    yield workers
    workers.close()


def test_a_pdf_over_the_parse_budget_is_refused_and_the_worker_replaced(pool: ParserPool) -> None:
    """Regression: a 4.6 KB PDF (8 pages sharing a stream of 250k operators) cost pypdf ~30 s."""
    with pytest.raises(DocumentTooComplex) as excinfo:
        pool(make_slow_pdf(), BUDGET, "slow.pdf")

    assert (excinfo.value.status, excinfo.value.code) == (422, "document_too_complex")
    assert excinfo.value.to_dict()["limit_s"] == 1.5
    for _ in range(3):  # more documents than workers: the killed one was replaced
        assert pool(make_pdf(["Still parsing"]), BUDGET, "next.pdf").text == "Still parsing"


def test_deeply_nested_html_is_refused_at_the_budget(pool: ParserPool) -> None:
    """Regression: 24 KB of nested <pre> blocks held the parser (and the GIL) for ~35 s."""
    with pytest.raises(DocumentTooComplex):
        pool(NESTED_HTML, BUDGET, "nested.html")

    parsed = pool(b"<html><body><p>Fine page.</p></body></html>", BUDGET, "fine.html")
    assert (parsed.media_type, parsed.text) == (HTML, "Fine page.")


def test_parser_errors_come_back_as_they_were_raised(pool: ParserPool) -> None:
    data = make_pdf(["Some words on a page"])
    with pytest.raises(CorruptDocument):
        pool(data[: len(data) // 2], BUDGET, "broken.pdf")
    with pytest.raises(UnprocessableDocument, match="over the cap of 1 pages"):
        pool(make_pdf(["one", "two"]), ParseLimits(max_pdf_pages=1), "long.pdf")
    parsed = pool(make_pdf(["Alpha", "Bravo"], title="Atlas"), BUDGET, "atlas.pdf")
    assert (parsed.media_type, parsed.title) == (PDF, "Atlas")
    assert [span.page for span in parsed.pages] == [1, 2]


def test_a_worker_that_dies_mid_parse_refuses_the_document_not_the_server() -> None:
    pool = ParserPool(workers=1)
    assert pool(make_pdf(["Warm"]), BUDGET, "warm.pdf").text == "Warm"  # the worker is up
    pid = pool._idle[0]._process.pid
    killer = threading.Timer(0.5, os.kill, (pid, signal.SIGKILL))
    killer.start()
    try:
        with pytest.raises(UnprocessableDocument, match="parser stopped"):
            pool(make_slow_pdf(), ParseLimits(parse_timeout_s=30), "slow.pdf")
        assert pool(make_pdf(["Back again"]), BUDGET, "next.pdf").text == "Back again"
    finally:
        killer.cancel()
        pool.close()


def test_a_worker_killed_while_idle_costs_the_next_document_nothing() -> None:
    pool = ParserPool(workers=1)
    try:
        assert pool(make_pdf(["Warm"]), BUDGET, "warm.pdf").text == "Warm"
        idle = pool._idle[0]._process
        os.kill(idle.pid, signal.SIGKILL)  # the kernel's OOM killer, say
        idle.wait()

        assert pool(make_pdf(["Next one"]), BUDGET, "next.pdf").text == "Next one"
    finally:
        pool.close()


def test_text_formats_parse_in_the_caller() -> None:
    """Plain text and Markdown never wait for a worker: they parse even once the pool is shut."""
    pool = ParserPool(workers=1)
    pool.close()

    assert pool(b"Just words.", BUDGET, "notes.txt").media_type == PLAIN
    with pytest.raises(RuntimeError, match="closed"):
        pool(make_pdf(["A page"]), BUDGET, "page.pdf")
