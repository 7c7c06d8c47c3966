"""Sentence spans of a text, as character offsets into it (answers and passages alike).

Lines are units of their own when they are headings, list items or table rows; other lines of
a paragraph are rejoined (hard wrapping). Inside a unit a sentence ends at ``.``, ``!``, ``?``
or an ellipsis followed by space and a capital, a digit or an opening quote, unless the word
before the period is an abbreviation ("e.g.", "Dr.", "M.") or an initial. Citation markers
right after the end ("... week. [1] Next") stay with the sentence they follow.
"""

from __future__ import annotations

import re

from engine.verify.text import wordset

Span = tuple[int, int]

_HEADING = re.compile(r"^#{1,6}\s")
_LIST_ITEM = re.compile(r"^(?:[-*+•–]|\d{1,3}[.)])\s+")
_TABLE_ROW = re.compile(r"^\|.*\|$")
_FENCE = re.compile(r"^(?:---+|```.*|===+)$")
# The end of a sentence: terminal punctuation, closing quotes or brackets, citation markers.
_END = re.compile(r"(?:\.{3}|…|[.!?]+)[\"'”’»)]*(?:\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\])*(?=\s|$)")
_NEXT_STARTS = re.compile(r"\s+(?=[\"'“‘«(\[]?\s?[A-ZÀ-ÖØ-Þ0-9])")
_ABBREVIATIONS = wordset(
    """e.g i.e vs cf mr mrs ms dr prof st jr sr no nos fig figs approx ca al
    p pp vol ch sec art dept env ex mme mlle mgr av bd jan feb mar apr jun jul aug sep sept
    oct nov dec resp"""
)
_WORD_BEFORE = re.compile(r"(\w+(?:\.\w+)*)\.{1}$")


def sentence_spans(text: str) -> list[Span]:
    """Each sentence's [start, end) in ``text``, whitespace trimmed, in reading order."""
    spans: list[Span] = []
    for start, end in _units(text):
        spans.extend(_split_unit(text, start, end))
    return spans


def _units(text: str) -> list[Span]:
    """Paragraph pieces: runs of ordinary lines, and each heading, list item or table row."""
    units: list[Span] = []
    run_start: int | None = None
    run_end = 0
    position = 0
    for line in text.splitlines(keepends=True):
        line_start, position = position, position + len(line)
        stripped = line.strip()
        lead = len(line) - len(line.lstrip())
        content_start, content_end = line_start + lead, line_start + lead + len(stripped)
        standalone = bool(
            _HEADING.match(stripped) or _TABLE_ROW.match(stripped) or _FENCE.match(stripped)
        )
        item = _LIST_ITEM.match(stripped)
        if not stripped or standalone or item:
            if run_start is not None:
                units.append((run_start, run_end))
                run_start = None
            if standalone:
                units.append((content_start, content_end))
            elif item:  # the item's text, bullet left out; following lines may continue it
                run_start, run_end = content_start + item.end(), content_end
            continue
        if run_start is None:
            run_start = content_start
        run_end = content_end
    if run_start is not None:
        units.append((run_start, run_end))
    return [(s, e) for s, e in units if e > s]


def _split_unit(text: str, start: int, end: int) -> list[Span]:
    spans: list[Span] = []
    cursor = start
    for match in _END.finditer(text, start, end):
        cut = match.end()
        follow = _NEXT_STARTS.match(text, cut, end)
        if follow is None or _is_abbreviation(text, cursor, match.start(), match.group()):
            continue
        spans.append((cursor, cut))
        cursor = follow.end()
    if cursor < end:
        spans.append((cursor, end))
    return [(s, e) for s, e in (_trim(text, s, e) for s, e in spans) if e > s]


def _is_abbreviation(text: str, cursor: int, at: int, ending: str) -> bool:
    if not ending.startswith(".") or ending.startswith("..."):
        return False
    word = _WORD_BEFORE.search(text, cursor, at + 1)
    if word is None:
        return False
    token = word.group(1)
    if len(token) == 1 and token.isalpha():  # an initial: "J. Smith"
        return token.isupper()
    return token.casefold() in _ABBREVIATIONS or bool(re.fullmatch(r"(?:[^\W\d]\.)+[^\W\d]", token))


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
