"""Sentence-aware chunking through llama-index's SentenceSplitter, with offsets and pages kept.

Sentences are found by ``kb.text.sentences`` (English, French, German, Spanish, Italian:
abbreviations such as "M." or "p. ex.", « guillemets », decimal commas) rather than NLTK's
English Punkt model, and a sentence too long for a chunk is cut at clauses, then words, in
pieces of at least a few dozen characters: a text of marks alone (". " repeated) is then cut in
a few thousand pieces, not one per mark, and chunking stays linear in the text's length
(bench/chunking_hostile.py: 400 KB of ". " took 9.2 s, see docs/languages.md).
"""

from __future__ import annotations

import logging
import re
import string
import sys
import threading
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.node_parser.text.utils import split_by_sep

from ingest.parsers.base import ParsedDocument
from kb.embeddings.base import WordTokens
from kb.text.sentences import coalesce, split_clauses, split_sentences

logger = logging.getLogger(__name__)

Tokenizer = Callable[[str], list[int]]


# A text's tokens with their spans, or None when the tokenizer does not cut words at
# whitespace and punctuation first (see SentenceTransformerEmbedder.word_tokens).
WordSpans = Callable[[str], WordTokens | None]


# Optional integrations NLTK's package init imports when installed (sentence-transformers
# brings both); its sentence tokenizer, all the splitter uses, needs neither.
NLTK_OPTIONAL = ("sklearn", "scipy")


def import_nltk_lean() -> None:
    """Import NLTK, whose Punkt tokenizer llama-index's splitter uses to find sentences,
    without the scikit-learn and SciPy integrations its package init pulls in: 27 MB and 0.1 s
    instead of 118 MB and 0.8 s (a server after its first upload: 400 MB instead of 475).

    Those packages, if not imported yet, are hidden for the duration of the import (NLTK skips
    what it cannot import) and importable again afterwards. Call it before other threads run:
    one importing them during that window would fail.
    """
    if "nltk" in sys.modules:
        return
    hidden = [name for name in NLTK_OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError
    try:
        import nltk
    except ImportError:  # an NLTK that needs them after all: import it whole
        logger.debug("NLTK needs %s; importing it whole", hidden)
        for module in [m for m in sys.modules if m == "nltk" or m.startswith("nltk.")]:
            del sys.modules[module]  # half-initialised
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    if "nltk" not in sys.modules:
        import nltk  # noqa: F401


@dataclass(frozen=True)
class ChunkSpan:
    """A passage's text and where it sits in the document."""

    index: int
    text: str
    start_char: int
    end_char: int
    page: int | None
    page_end: int | None
    section: str | None = None
    # The text's token ids (no special tokens), when known from its section's tokenisation:
    # the embedder then need not tokenise it again (None: not known).
    token_ids: list[int] | None = None


class SentenceChunker:
    """Cuts text into passages of about ``chunk_size`` tokens on sentence boundaries."""

    def __init__(
        self,
        chunk_size: int,
        chunk_overlap: int,
        tokenizer: Tokenizer,
        word_spans: WordSpans | None = None,
    ) -> None:
        if chunk_overlap >= chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        self._tokenizer = tokenizer
        self._word_spans = word_spans
        self._local = threading.local()  # the section being split, per thread
        import_nltk_lean()
        # The tokenizer is the embedding model's own, so a chunk fits what the model reads;
        # llama-index's default (tiktoken) would also try to download its vocabulary.
        self._splitter = SentenceSplitter(
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            tokenizer=self._tokens,
            paragraph_separator="\n\n",
            chunking_tokenizer_fn=split_sentences,
        )
        # Below the sentence: clauses, then words, each piece at least a few dozen characters
        # (llama-index's own cut at every comma, then every space, one piece per mark).
        by_space = split_by_sep(" ")
        self._splitter._sub_sentence_split_fns = [
            split_clauses,
            lambda text: coalesce(by_space(text)),
            _split_by_chars,
        ]

    def _tokens(self, text: str) -> Sequence[int]:
        """The splitter's tokenizer; it only ever takes the length of the result.

        The splitter sizes a section, then its paragraphs, then their sentences, tokenising the
        same text two or three times over; with word spans the section is tokenised once and
        each part is counted from that (the parts come in document order).
        """
        sizes: _PartSizes | None = getattr(self._local, "sizes", None)
        count = sizes.count(text) if sizes is not None else None
        return range(count) if count is not None else self._tokenizer(text)

    def split(self, doc: ParsedDocument) -> list[ChunkSpan]:
        """The document's passages in order, each located in the document text.

        Paged documents are split page by page, so every passage cites exactly one page; other
        documents section by section (at Markdown headings, which the HTML and DOCX parsers
        also emit), so a passage never mixes two topics.
        """
        sections = _page_sections(doc) or _heading_sections(doc.text)
        spans: list[ChunkSpan] = []
        for start, end, heading in sections:
            for offset, text, ids in self._split_section(doc.text[start:end]):
                spans.append(
                    ChunkSpan(
                        index=len(spans),
                        text=text,
                        start_char=start + offset,
                        end_char=start + offset + len(text),
                        page=doc.page_at(start + offset),
                        page_end=doc.page_at(start + offset + max(len(text) - 1, 0)),
                        section=heading,
                        token_ids=ids,
                    )
                )
        return spans

    def word_tokens(self, text: str) -> WordTokens | None:
        """``text``'s tokens and their spans, when the tokenizer cuts words at whitespace and
        punctuation (else None). Joined by whitespace, texts then have their tokens joined:
        a title above a passage adds the title's ids before the passage's."""
        return self._word_spans(text) if self._word_spans else None

    def _split_section(self, section: str) -> list[tuple[int, str, list[int] | None]]:
        """``(offset, text, token ids or None)`` of each passage of ``section``."""
        tokens = self._word_spans(section) if self._word_spans and section else None
        sizes = _PartSizes(section, tokens) if tokens is not None else None
        self._local.sizes = sizes
        try:
            texts = self._splitter.split_text(section)
        finally:
            self._local.sizes = None
        found = []
        cursor = 0
        previous_end = 0
        for text in texts:
            text = text.strip()
            if not text:
                continue
            offset = _next_offset(section, text, cursor, previous_end)
            # Overlapping chunks start before the previous one ended; search on from its start.
            cursor = offset + 1
            previous_end = offset + len(text)
            ids = None
            if sizes is not None and section.startswith(text, offset):
                ids = sizes.ids(offset, offset + len(text))
            found.append((offset, text, ids))
        return found


class _PartSizes:
    """Token counts and ids of parts of one section, from one tokenisation of the whole
    section.

    A part that starts and ends where the tokenizer cuts words (whitespace or punctuation on
    either side) holds exactly the tokens inside it; any other part returns None, and the
    caller tokenises it on its own.
    """

    def __init__(self, section: str, tokens: WordTokens) -> None:
        self._section = section
        self._ids = tokens.ids
        self._starts = [start for start, _ in tokens.offsets]
        self._ends = [end for _, end in tokens.offsets]
        self._cursor = 0

    def count(self, part: str) -> int | None:
        """Tokens of ``part``, looked for from the previous part's start, or None."""
        at = self._section.find(part, self._cursor) if part else -1
        if at < 0:
            return None
        self._cursor = at
        end = at + len(part)
        if not (self._is_cut(at) and self._is_cut(end)):
            return None
        return bisect_right(self._ends, end) - bisect_left(self._starts, at)

    def ids(self, start: int, end: int) -> list[int] | None:
        """Token ids of ``section[start:end]``, or None unless both ends are word cuts."""
        if not (self._is_cut(start) and self._is_cut(end)):
            return None
        return self._ids[bisect_left(self._starts, start) : bisect_right(self._ends, end)]

    def _is_cut(self, index: int) -> bool:
        if index in (0, len(self._section)):
            return True
        return _splits_words(self._section[index - 1]) or _splits_words(self._section[index])


def _splits_words(char: str) -> bool:
    """Whether BERT's pre-tokenizer cuts words at ``char`` (its whitespace and punctuation)."""
    if char in " \t\n\r":
        return True
    category = unicodedata.category(char)
    return char in _ASCII_PUNCTUATION or category == "Zs" or category.startswith("P")


# BERT counts every ASCII symbol as punctuation ($, +, <, ^, ` ...), not only category P.
_ASCII_PUNCTUATION = frozenset(string.punctuation)


_SPACE = re.compile(r"\s*")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(\S[^\n]*)$", re.M)
_FENCE = re.compile(r"^[ \t]{0,3}(?:```|~~~)", re.M)


def _page_sections(doc: ParsedDocument) -> list[tuple[int, int, str | None]]:
    return [(p.start, p.end, None) for p in doc.pages]


def _heading_sections(text: str) -> list[tuple[int, int, str | None]]:
    """``(start, end, heading)`` per section; a heading with no body joins the next section,
    and trailing headings with no body are dropped."""
    fences = [m.start() for m in _FENCE.finditer(text)]
    starts = [
        (m.start(), m.group(2).strip())
        for m in _HEADING.finditer(text)
        # A "# comment" inside a fenced code block is not a heading.
        if sum(1 for f in fences if f < m.start()) % 2 == 0
    ]
    bounds: list[tuple[int, str | None]] = [(0, None)] if not starts or starts[0][0] > 0 else []
    bounds += starts
    sections: list[tuple[int, int, str | None]] = []
    carry: int | None = None
    for i, (start, heading) in enumerate(bounds):
        end = bounds[i + 1][0] if i + 1 < len(bounds) else len(text)
        body = _HEADING.sub("", text[start:end]).strip()
        if not body:
            carry = start if carry is None else carry
            continue
        sections.append((start if carry is None else carry, end, heading))
        carry = None
    return sections or [(0, len(text), None)]


def _split_by_chars(text: str) -> list[str]:
    """The last resort for a word longer than a chunk: pieces of 16 characters (at least two
    pieces, so that a piece still too long is halved again), not one piece per character."""
    step = max(1, min(16, len(text) // 2))
    return [text[i : i + step] for i in range(0, len(text), step)]


def _next_offset(section: str, text: str, cursor: int, previous_end: int) -> int:
    """Where the chunk ``text`` starts: a chunk overlaps the one before or follows it after
    white space, so its latest occurrence starting there is taken first (in repetitive text
    the first occurrence after the previous start would put every chunk one character on)."""
    after_space = _SPACE.match(section, previous_end)
    offset = section.rfind(text, cursor, (after_space.end() if after_space else 0) + len(text))
    return offset if offset >= 0 else _locate(section, text, cursor)


def _locate(haystack: str, needle: str, cursor: int) -> int:
    """Offset of ``needle`` at or after ``cursor``; falls back to its first words when the
    splitter normalised whitespace inside the chunk."""
    found = haystack.find(needle, cursor)
    if found >= 0:
        return found
    head = needle[:40]
    found = haystack.find(head, cursor)
    if found >= 0:
        return found
    found = haystack.find(needle.split()[0], cursor) if needle.split() else -1
    return found if found >= 0 else min(cursor, len(haystack))
