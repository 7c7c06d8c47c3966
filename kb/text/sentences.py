"""Sentence and clause boundaries for English, French, German, Spanish and Italian text.

A sentence ends at ``.``, ``!``, ``?`` or ``…`` (and any closing quote or bracket after it,
French « guillemets » included) followed by white space and a capital, a digit or an opening
quote; not after an abbreviation ("M. Dupont", "p. ex. la", "z. B.", "Dr. Who") or an initial
("J. Dupont"). A decimal comma or point ("3,5 %", "3.5") never ends anything. One regular
expression pass and a bounded look-back per candidate: linear in the text's length, and a text
of punctuation alone ("". " repeated) makes one sentence, not one per mark.
"""

from __future__ import annotations

import re

# Lower-cased, without the final period; only words that rarely end a sentence ("me", "no",
# "art" do in English, so they are not here).
_ABBREVIATIONS = """
    m mm mme mmes mlle mlles dr drs pr prof mgr st ste sts cf ex p pp chap fig figs vol vols
    n° nº env av apr hab tél tel réf ref éd coll mr mrs ms messrs sr sra srta srs jr vs e.g i.e
    approx dept inc ltd corp lt sgt capt z.b d.h u.a bzw usw ca nr str s.o s.u vgl ggf evtl
    inkl bspw ud uds dña pág págs núm tfno dott dott.ssa ing avv sig sigg pag prof.ssa geom
"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS.split())

# Possessive, and only from the start of a run of marks: a run is matched once, not once per
# mark with backtracking ("." repeated 20,000 times took 31 s).
_CANDIDATE = re.compile(r"(?<![.!?…])[.!?…]++(?:\s*+[»”\"')\]])*+(\s++)")
_OPENERS = "«“\"'([¿¡—–-"
_WORD_BEFORE = re.compile(r"([^\W\d_]+(?:[.'’-][^\W\d_]+)*|[nN][°º])$")
_LOOK_BACK = 24


def sentence_ends(text: str) -> list[int]:
    """Offsets where a sentence ends in ``text`` (after the white space that follows it)."""
    ends = []
    for match in _CANDIDATE.finditer(text):
        end = match.end()
        if end >= len(text) or not _starts_sentence(text, end):
            continue
        marks = match.group(0)
        if marks[0] == "." and not marks.startswith("..") and _abbreviated(text, match.start()):
            continue
        ends.append(end)
    return ends


def _starts_sentence(text: str, at: int) -> bool:
    """Whether what follows ``at`` can begin a sentence: a capital, a digit, an opening mark."""
    first = text[at]
    if first in _OPENERS:
        rest = text[at + 1 : at + 4].lstrip()
        return not rest or rest[0].isupper() or rest[0].isdigit() or rest[0] in _OPENERS
    return first.isupper() or first.isdigit()


def _abbreviated(text: str, period: int) -> bool:
    """Whether the period at ``period`` closes an abbreviation or an initial."""
    found = _WORD_BEFORE.search(text[max(0, period - _LOOK_BACK) : period])
    if found is None:
        return False
    word = found.group(1)
    start = period - len(word)
    if start > 0 and text[start - 1] == ".":  # "p. ex." / "z. B.": the dot before is one too
        return True
    if len(word) == 1:  # an initial, or a one-letter abbreviation ("p.", "M.")
        return True
    return word.casefold() in ABBREVIATIONS


def split_sentences(text: str) -> list[str]:
    """``text`` cut into sentences that join back into it exactly (white space kept at each
    sentence's end); a piece with no letter or digit joins the sentence before it."""
    pieces: list[str] = []
    start = 0
    for end in [*sentence_ends(text), len(text)]:
        if end <= start:
            continue
        piece = text[start:end]
        if pieces and not _has_word(piece):
            pieces[-1] += piece
        elif len(pieces) == 1 and not _has_word(pieces[0]):
            pieces[0] += piece
        else:
            pieces.append(piece)
        start = end
    return pieces or [text]


_CLAUSE = re.compile(r"(?:[^,;:.!?…]|(?<=\d)[,.](?=\d))+[,;:.!?…]*|[,;:.!?…]+")
_WORD_CHAR = re.compile(r"[^\W_]")


def _has_word(text: str) -> bool:
    return _WORD_CHAR.search(text) is not None


def split_clauses(text: str, min_chars: int = 48) -> list[str]:
    """``text`` cut after commas, semicolons, colons and stops (not inside "3,5" or "3.5"),
    pieces shorter than ``min_chars`` joined to the next: a long sentence's cut points, few
    enough that a text of marks alone does not become one piece per mark."""
    return coalesce([m.group(0) for m in _CLAUSE.finditer(text)], min_chars) or [text]


def coalesce(pieces: list[str], min_chars: int = 48) -> list[str]:
    """``pieces`` joined in order into pieces of at least ``min_chars`` characters (the last
    one joins the one before when shorter)."""
    joined: list[str] = []
    pending = ""
    for piece in pieces:
        pending += piece
        if len(pending) >= min_chars:
            joined.append(pending)
            pending = ""
    if pending:
        if joined:
            joined[-1] += pending
        else:
            joined.append(pending)
    return joined
