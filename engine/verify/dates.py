"""Dates as facts: ISO and numeric forms, and dates written with a month name in English and
French ("12 March 2026", "March 12th", "1er mars", "mars 2026"); a date provides every partial
form of itself, so "12 March" in a claim matches "2026-03-12" in a passage."""

from __future__ import annotations

import re

from engine.verify.fact_types import Fact, Key, Token
from engine.verify.vocabulary import MONTHS, MONTHS_NEEDING_CONTEXT, ORDINAL_SUFFIXES

_NUMBER_SUFFIX = re.compile(r"^(\d+(?:[.,]\d+)?)([^\W\d_]+)$")


def valid_dates(year: int, parts: tuple[int, int]) -> set[tuple[int, int, int]]:
    """The (year, month, day) readings of a numeric date: day first, and month first."""
    a, b = parts
    return {(year, m, d) for m, d in ((b, a), (a, b)) if 1 <= m <= 12 and 1 <= d <= 31}


def date_fact(first: Token, last: Token, readings: tuple[tuple[int | None, ...], ...]) -> Fact:
    """A date fact from its readings; it provides each partial form of each reading."""
    options: list[tuple[Key, ...]] = []
    provides: list[Key] = []
    for y, m, d in readings:
        options.append((("date", y, m, d),))
        for py, pm, pd in ((y, m, d), (None, m, d), (y, m, None), (None, m, None), (y, None, None)):
            if pm is not None or py is not None:
                provides.append(("date", py, pm, pd))
        provides += [("v", float(x)) for x in (y, d) if x is not None]
    return Fact("date", first.text, first.start, last.end, tuple(options), tuple(provides))


def named_dates(toks: list[Token], used: set[int]) -> list[Fact]:
    """Dates written with a month name: "12 March 2026", "March 12", "1er mars", "mars 2026"."""
    found: list[Fact] = []
    for j, token in enumerate(toks):
        month = MONTHS.get(token.lower.rstrip("."))
        if month is None or token.kind != "word":
            continue
        day_at = _day_index(toks, j - 1) if j > 0 else None
        if day_at is None and j > 1 and toks[j - 1].lower in ("of", "de"):
            day_at = _day_index(toks, j - 2)
        after = j + 1
        if day_at is None and after < len(toks) and _day_index(toks, after) is not None:
            day_at, after = after, after + 1
        year = _year(toks, after)
        if token.lower in MONTHS_NEEDING_CONTEXT and day_at is None and year is None:
            continue
        if token.lower == "may" and token.text == "may":
            continue
        day = _day_value(toks[day_at]) if day_at is not None else None
        span = [j] + ([day_at] if day_at is not None else []) + ([after] if year else [])
        first, last = toks[min(span)], toks[max(span)]
        found.append(date_fact(first, last, ((year, int(month), day),)))
        used.update(range(min(span), max(span) + 1))
    return found


def _day_index(toks: list[Token], k: int) -> int | None:
    return k if 0 <= k < len(toks) and _day_value(toks[k]) is not None else None


def _day_value(token: Token) -> int | None:
    text = token.text
    if token.kind == "code":
        match = _NUMBER_SUFFIX.match(text)
        if not match or match.group(2).casefold() not in ORDINAL_SUFFIXES:
            return None
        text = match.group(1)
    elif token.kind != "num" or not text.isdigit():
        return None
    value = int(text)
    return value if 1 <= value <= 31 else None


def _year(toks: list[Token], k: int) -> int | None:
    if k < len(toks) and toks[k].kind == "num" and re.fullmatch(r"[12]\d{3}", toks[k].text):
        return int(toks[k].text)
    return None
