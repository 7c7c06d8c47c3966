"""Shared helpers for the evaluation-collection generators: text extraction and chunking."""

from __future__ import annotations

import gzip
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

from bs4 import BeautifulSoup, NavigableString, Tag, XMLParsedAsHTMLWarning

warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

EVAL_DIR = Path(__file__).resolve().parents[1]
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
BLOCKS = {
    "p",
    "pre",
    "li",
    "dt",
    "dd",
    "blockquote",
    "td",
    "th",
    "caption",
    "table",
    "ul",
    "ol",
    "dl",
    "div",
}
LEAVES = {"p", "pre", "li", "dt", "dd", "blockquote", "td", "th", "caption"}
# Navigation, tables of contents and indexes carry no prose to ask about.
SKIP_CLASS = re.compile(r"toc|contents|nav|header|footer|index-|printindex|footnote-ref", re.I)
LICENCE = re.compile(r"GNU Free Documentation License|Licence de documentation libre", re.I)
MIN_WORDS, MAX_WORDS, CARRY_WORDS = 100, 300, 60


def read_text(path: Path) -> str:
    """The file's text, gunzipped when it ends in .gz."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return raw.decode("utf-8", errors="replace")


def clean(text: str) -> str:
    """Whitespace collapsed to single spaces."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ")).strip()


def _text(node: Tag) -> str:
    return clean(node.get_text(" "))


def _skipped(node: Tag) -> bool:
    classes = " ".join(node.get("class") or [])
    return bool(SKIP_CLASS.search(classes)) or node.name in {"script", "style", "nav", "head"}


def html_blocks(html: str, tables: bool = True) -> tuple[str, list[tuple[str, str]]]:
    """The document title and its (section heading, block text) pairs in reading order."""
    soup = BeautifulSoup(html, "lxml")
    title = clean(soup.title.get_text()) if soup.title else ""
    out: list[tuple[str, str]] = []
    heading = title

    def walk(node: Tag) -> None:
        nonlocal heading
        for child in node.children:
            if isinstance(child, NavigableString) or not isinstance(child, Tag):
                continue
            if _skipped(child) or (not tables and child.name == "table"):
                continue
            if child.name in HEADINGS:
                text = _text(child)
                if LICENCE.search(text):  # licence appendices: boilerplate, not documentation
                    return
                if text:
                    heading = text
                    out.append((heading, ""))
                continue
            if child.name in LEAVES and not child.find(list(BLOCKS | HEADINGS)):
                text = _text(child)
                if text:
                    out.append((heading, text))
                continue
            walk(child)

    walk(soup.body or soup)
    return title, out


def markdown_blocks(text: str, title: str) -> tuple[str, list[tuple[str, str]]]:
    """(heading, paragraph) pairs from Markdown or reStructuredText, split on blank lines."""
    lines = text.splitlines()
    out: list[tuple[str, str]] = []
    heading, para = title, []
    underline = re.compile(r"^([=\-~^*#])\1{2,}\s*$")

    def flush() -> None:
        if para:
            out.append((heading, clean(" ".join(para))))
            para.clear()

    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.startswith("#"):
            flush()
            heading = clean(line.lstrip("#"))
            out.append((heading, ""))
        elif underline.match(line):
            continue
        elif line.strip() and underline.match(nxt) and len(line.strip()) <= len(nxt.strip()) + 2:
            flush()
            heading = clean(line)
            out.append((heading, ""))
        elif not line.strip():
            flush()
        elif not line.lstrip().startswith(".. "):
            para.append(line)
    flush()
    return title, out


FR_WORDS = set(
    [
        "le",
        "la",
        "les",
        "des",
        "du",
        "un",
        "une",
        "est",
        "sont",
        "pour",
        "dans",
        "que",
        "qui",
        "avec",
        "sur",
        "pas",
        "vous",
        "ce",
        "cette",
        "au",
        "aux",
        "et",
        "ou",
        "par",
        "se",
        "il",
        "elle",
        "ne",
        "plus",
    ]
)
EN_WORDS = set(
    [
        "the",
        "is",
        "are",
        "of",
        "to",
        "with",
        "for",
        "that",
        "this",
        "you",
        "it",
        "and",
        "or",
        "by",
        "be",
        "not",
        "can",
        "on",
        "an",
        "as",
        "which",
        "from",
    ]
)


def french_enough(text: str) -> bool:
    """False for a block of English left untranslated (the French manuals are partly translated)."""
    words = re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+", text.lower())
    fr = sum(w in FR_WORDS for w in words)
    en = sum(w in EN_WORDS for w in words)
    return len(words) < 8 or fr > en


def _split_long(text: str) -> list[str]:
    """A block over MAX_WORDS split at sentence ends into pieces of at most MAX_WORDS."""
    sentences = re.split(r"(?<=[.!?;:])\s+", text)
    pieces, cur = [], []
    for sentence in sentences:
        words = sentence.split()
        while len(words) > MAX_WORDS:  # one huge "sentence", e.g. a code listing
            if cur:
                pieces.append(" ".join(cur))
                cur = []
            pieces.append(" ".join(words[:MAX_WORDS]))
            words = words[MAX_WORDS:]
        if len(cur) + len(words) > MAX_WORDS and cur:
            pieces.append(" ".join(cur))
            cur = []
        cur += words
    if cur:
        pieces.append(" ".join(cur))
    return pieces


def chunk(title: str, blocks: Iterable[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    """(passage title, passage text) of about MIN_WORDS..MAX_WORDS words, cut at block ends."""
    buf: list[str] = []
    buf_heading = ""
    words = 0

    def emit() -> tuple[str, str]:
        head = buf_heading if buf_heading and buf_heading != title else ""
        return (f"{title} — {head}" if head else title, " ".join(buf))

    for heading, text in blocks:
        if not text:  # a new section starts: flush unless the buffer is a scrap
            if words >= CARRY_WORDS:
                yield emit()
                buf, words = [], 0
            if not buf:
                buf_heading = heading
            continue
        for piece in _split_long(text) if len(text.split()) > MAX_WORDS else [text]:
            n = len(piece.split())
            if words and words + n > MAX_WORDS:
                yield emit()
                buf, words, buf_heading = [], 0, heading
            if not buf:
                buf_heading = heading
            buf.append(piece)
            words += n
            if words >= MIN_WORDS and words >= MAX_WORDS * 0.66:
                yield emit()
                buf, words = [], 0
    if words >= 30:
        yield emit()


def write_corpus(folder: Path, docs: list[dict[str, str]]) -> None:
    """corpus.jsonl in folder, one passage per line, in the given order."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "corpus.jsonl").open("w", encoding="utf-8") as out:
        for doc in docs:
            out.write(json.dumps(doc, ensure_ascii=False) + "\n")


def passages(slug: str, title: str, blocks: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Corpus records with ids slug-000, slug-001, ... for one source document."""
    return [
        {"_id": f"{slug}-{i:03d}", "title": t, "text": text}
        for i, (t, text) in enumerate(chunk(title, blocks))
    ]
