"""CPU time to read hostile HTML pages: the crawler's link extraction (lxml target parser) and the
HTML document parser (BeautifulSoup on lxml), beside the stdlib html.parser they replaced.

The stdlib tokenizer is quadratic on constructs left open at the end of the page (CVE-2025-6069
and kin): with no ``-->`` after a run of ``<!--``, closing the parser rescans the rest of the
page from each one. Its figures are taken on smaller pages (doubling the size about quadruples
the time); lxml's on the full size.

Usage: .venv/bin/python bench/hostile_html.py [--mb 2] [--stdlib-kb 50,100]
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable
from functools import partial
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest.crawl.links import extract_links  # noqa: E402
from ingest.parsers.base import ParseLimits  # noqa: E402
from ingest.parsers.html import HtmlParser  # noqa: E402
from kb.errors import KBError  # noqa: E402

# Repeated unit, open at the end of the page (the stdlib's worst case): a link before it must be
# found. With a ">" and a link after the run, the construct ends there and that link is found.
PATTERNS = {
    "unclosed <!--": b"<!--",
    "unclosed <!": b"<!",
    "</a repeated": b"</a",
    "<a repeated": b"<a",
    "<![CDATA[": b"<![CDATA[",
    "<? repeated": b"<?",
    "deep <div>": b"<div>",
}
# BeautifulSoup builds a tree, and appending to a tag walks its subtree (bs4 _last_descendant,
# from the layout breaks of ingest/parsers/html.py): nesting stays quadratic, ~4 s for 50 KB
# (35.9 s before the Tag.decomposed fix), minutes for 2 MB. That is the parse budget's case (the
# document parser runs in a worker stopped at the budget, tests/ingest/parsers/test_isolation.py).
DEEP_DOCUMENT_BYTES = 50_000
HEAD = b"<html><body><a href='/before'>before</a>"
TAIL = b"<a href='/after'>after</a>"


def page(unit: bytes, size: int, tail: bytes = b"") -> bytes:
    """A link, then ``unit`` repeated to about ``size`` bytes, then ``tail``."""
    return HEAD + unit * (size // len(unit)) + tail


def cpu(call: Callable[[], object]) -> float:
    """Process CPU seconds ``call`` takes."""
    start = time.process_time()
    call()
    return time.process_time() - start


def stdlib(data: bytes) -> None:
    """What the crawler did before: the stdlib tokenizer over the decoded page."""
    parser = HTMLParser(convert_charrefs=True)
    parser.feed(data.decode("utf-8", errors="replace"))
    parser.close()


def document(data: bytes) -> None:
    """The HTML document parser (its own CPU budget applies in the server)."""
    with contextlib.suppress(KBError):  # a page with no text is refused, after the work
        HtmlParser().parse(data, ParseLimits())


def main() -> None:
    """Print CPU seconds per pattern and parser."""
    args = argparse.ArgumentParser(description=__doc__)
    args.add_argument("--mb", type=float, default=2.0, help="page size for lxml, in MB")
    args.add_argument("--stdlib-kb", default="50,100", help="page sizes for html.parser, in KB")
    opts = args.parse_args()
    size = int(opts.mb * 1_000_000)
    small = [int(kb) * 1000 for kb in opts.stdlib_kb.split(",") if kb]
    head = f"{'pattern':16} {'links (lxml)':>14} {'document (bs4+lxml)':>20}"
    head += "".join(f" {f'html.parser {s // 1000} KB':>20}" for s in small)
    print(f"CPU seconds; lxml columns on {size / 1e6:.1f} MB pages.\n{head}")
    for name, unit in PATTERNS.items():
        data = page(unit, size)
        assert extract_links(data, "https://e.com/").links[0] == "https://e.com/before", name
        closed = extract_links(page(unit, size, b">" + TAIL), "https://e.com/")
        assert "https://e.com/after" in closed.links, name
        row = f"{name:16} {cpu(partial(extract_links, data, 'https://e.com/')):>14.3f}"
        shown = page(unit, DEEP_DOCUMENT_BYTES) if unit == b"<div>" else data
        row += f" {cpu(partial(document, shown)):>20.3f}"
        for s in small:
            hostile = page(unit, s)
            row += f" {cpu(partial(stdlib, hostile)):>20.3f}"
        print(row, flush=True)
    print(
        f"(deep <div> document column: {DEEP_DOCUMENT_BYTES // 1000} KB, see DEEP_DOCUMENT_BYTES)"
    )


if __name__ == "__main__":
    main()
