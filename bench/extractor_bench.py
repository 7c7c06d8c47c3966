"""Main-content extraction benchmark on real documentation pages (issue 3, crawler).

Samples a fixed, seeded set of HTML pages from the Rust toolchain's offline documentation
(mdBook books and rustdoc API pages: real published sites with sidebars, menu bars, search,
scripts and page navigation), builds a reference from each page's own semantic markup, and
scores several extractors on word tokens:

- reference content: the visible text of ``<main>`` (mdBook) or ``section#main-content``
  (rustdoc), without script/style/noscript/template/svg/button text (UI labels and diagram
  glyphs, not prose);
- reference boilerplate: the rest of ``<body>`` (sidebar, menu bar, search, page navigation)
  plus every script and style text in the document.

Metrics per extractor: content recall (multiset overlap of word occurrences), precision
(share of output words that match reference content), boilerplate leakage (share of the
boilerplate-only vocabulary found in the output, and share of output words that are
boilerplate), title kept (exact match with ``<title>``), headings kept (share of h1-h3 texts
in the content found, as a word sequence, in the output) and milliseconds per page.

    .venv/bin/python bench/extractor_bench.py [--per-family 150] [--seed 3]

trafilatura is optional (``pip install trafilatura`` into the venv for the benchmark only;
it is not a project dependency); it is skipped when missing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import NavigableString, Tag

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.parsers.base import ParseLimits
from ingest.parsers.html import HtmlParser

DOC_ROOT = Path("/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html")
MDBOOK_DIRS = (
    "book", "cargo", "clippy", "edition-guide", "embedded-book", "nomicon", "reference",
    "rust-by-example", "rustc", "rustdoc", "style-guide", "unstable-book",
)  # fmt: skip
RUSTDOC_DIRS = ("std", "core", "alloc", "proc_macro", "test")
MIN_CONTENT_WORDS = 30
_WORD = re.compile(r"\w+")
_INVISIBLE = ("script", "style", "noscript", "template", "svg", "button")
_BLOCKS = (
    "p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "pre",
    "table", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "br", "hr", "blockquote",
    "figure", "figcaption", "details", "summary", "nav", "header", "footer", "aside",
)  # fmt: skip

Extracted = tuple[str, "str | None"]


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def rendered_text(root: Tag) -> str:
    """Text as a browser lays it out: inline elements joined, block elements separated."""
    for tag in root.find_all(_BLOCKS):
        tag.insert_before(NavigableString(" "))
        tag.append(NavigableString(" "))
    return " ".join(root.get_text("").split())


def family_of(raw: bytes) -> str | None:
    head = raw[:4000]
    if b'class="rustdoc' in raw[:20000]:
        return "rustdoc"
    if b"mdbook" in head or b'id="mdbook-' in raw[:20000]:
        return "mdbook"
    return None


def reference(raw: bytes, family: str) -> dict | None:
    soup = BeautifulSoup(raw, "lxml")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text(" ").split()) if title_tag else None
    scripts = " ".join(t.get_text(" ") for t in soup.find_all(("script", "style")))
    body = soup.find("body")
    content = soup.find("main") if family == "mdbook" else soup.find(id="main-content")
    if not isinstance(body, Tag) or not isinstance(content, Tag):
        return None
    for tag in content.find_all(_INVISIBLE):
        tag.decompose()
    headings = [rendered_text(h) for h in content.find_all(("h1", "h2", "h3"))]
    content_text = rendered_text(content.extract())
    for tag in body.find_all(("script", "style", "template")):
        tag.decompose()
    boiler_text = rendered_text(body) + " " + scripts
    return {
        "title": title,
        "content": Counter(words(content_text)),
        "boiler": Counter(words(boiler_text)),
        "headings": [h for h in headings if words(h)],
    }


def strip_landmarks(raw: bytes) -> bytes:
    """The same page as a site without semantic landmarks would serve it (div soup).

    main/nav/header/footer/aside/article become div and role/aria-label go; ids and classes
    stay. The reference is still taken from the original page.
    """
    soup = BeautifulSoup(raw, "lxml")
    for tag in soup.find_all(("main", "nav", "header", "footer", "aside", "article")):
        tag.name = "div"
    for tag in soup.find_all(True):
        for attr in ("role", "aria-label"):
            tag.attrs.pop(attr, None)
    return str(soup).encode()


# --- extractors ---------------------------------------------------------------------------


def ours(raw: bytes) -> Extracted:
    doc = HtmlParser().parse(raw, ParseLimits())
    return doc.text, doc.title


def naive(raw: bytes) -> Extracted:
    body = BeautifulSoup(raw, "lxml").body
    return (body.get_text(" ") if body else ""), None


def trafilatura_extractor() -> Callable[[bytes], Extracted] | None:
    try:
        import trafilatura
    except ImportError:
        return None

    def run(raw: bytes) -> Extracted:
        out = trafilatura.extract(raw, output_format="json", with_metadata=True)
        if not out:
            return "", None
        data = json.loads(out)
        return data.get("text") or "", data.get("title")

    return run


# --- scoring ------------------------------------------------------------------------------


def score(ref: dict, text: str, title: str | None) -> dict:
    out = Counter(words(text))
    content, boiler = ref["content"], ref["boiler"]
    n_out = sum(out.values())
    kept = sum((out & content).values())
    extra = out - content
    boiler_only = set(boiler) - set(content)
    out_seq = " " + " ".join(words(text)) + " "
    found = [(" " + " ".join(words(h)) + " ") in out_seq for h in ref["headings"]]
    return {
        "recall": kept / max(1, sum(content.values())),
        "precision": kept / n_out if n_out else 0.0,
        "bp_vocab": len(boiler_only & set(out)) / len(boiler_only) if boiler_only else 0.0,
        "bp_share": sum((extra & boiler).values()) / n_out if n_out else 0.0,
        "title": float(title is not None and " ".join(title.split()) == ref["title"]),
        "headings": sum(found) / len(found) if found else None,
    }


def sample(per_family: int, seed: int) -> list[tuple[str, Path]]:
    rng = random.Random(seed)
    picked: list[tuple[str, Path]] = []
    for family, dirs in (("mdbook", MDBOOK_DIRS), ("rustdoc", RUSTDOC_DIRS)):
        files = sorted(p for d in dirs for p in (DOC_ROOT / d).rglob("*.html"))
        files = [p for p in files if "/src/" not in str(p) and p.name != "print.html"]
        rng.shuffle(files)
        chosen = 0
        for path in files:
            if chosen == per_family:
                break
            raw = path.read_bytes()
            if len(raw) < 3000 or b'http-equiv="refresh"' in raw[:3000].lower():
                continue  # redirect stubs and tiny pages
            if family_of(raw) != family:
                continue
            ref = reference(raw, family)
            if ref is None or sum(ref["content"].values()) < MIN_CONTENT_WORDS:
                continue
            picked.append((family, path))
            chosen += 1
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-family", type=int, default=150)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    extractors: dict[str, Callable[[bytes], Extracted]] = {"ours": ours, "naive": naive}
    traf = trafilatura_extractor()
    if traf is None:
        print("trafilatura not installed: skipped")
    else:
        extractors["trafilatura"] = traf
    pages = sample(args.per_family, args.seed)
    print(
        f"{len(pages)} pages: "
        + ", ".join(f"{f} {n}" for f, n in Counter(f for f, _ in pages).items())
    )
    rows: dict[tuple[str, str], list[dict]] = {}
    for family, path in pages:
        raw = path.read_bytes()
        ref = reference(raw, family)
        assert ref is not None
        stripped = strip_landmarks(raw)
        for (variant, page), (name, extract) in itertools.product(
            (("", raw), ("*", stripped)), extractors.items()
        ):
            start = time.perf_counter()
            try:
                text, title = extract(page)
            except Exception:
                text, title = "", None
            ms = (time.perf_counter() - start) * 1000
            result = score(ref, text, title) | {"ms": ms}
            rows.setdefault((family + variant, name), []).append(result)
            rows.setdefault(("overall" + variant, name), []).append(result)
    header = (
        f"{'family':<8} {'extractor':<12} {'recall':>7} {'precis.':>7} {'bp-vocab':>8} "
        f"{'bp-share':>8} {'title':>6} {'heads':>6} {'ms/page':>8} {'ms p50':>7}"
    )
    print(header)
    print("-" * len(header))
    for family in ("mdbook", "rustdoc", "overall", "mdbook*", "rustdoc*", "overall*"):
        for name in extractors:
            rs = rows.get((family, name), [])
            if not rs:
                continue

            def mean(key: str, rs: list[dict] = rs) -> float:
                vals = [r[key] for r in rs if r[key] is not None]
                return statistics.fmean(vals) if vals else float("nan")

            print(
                f"{family:<8} {name:<12} {mean('recall'):>7.3f} {mean('precision'):>7.3f} "
                f"{mean('bp_vocab'):>8.3f} {mean('bp_share'):>8.3f} {mean('title'):>6.2f} "
                f"{mean('headings'):>6.3f} {mean('ms'):>8.1f} "
                f"{statistics.median(r['ms'] for r in rs):>7.1f}"
            )
    print("* = same pages with landmarks stripped (main/nav/header/footer/aside/article -> div)")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
