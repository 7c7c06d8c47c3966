"""Numbers as facts, with what they measure: units, currencies, percentages, scales, clock
times and spoken decimals; and codes (versions, identifiers with digits) taken literally."""

from __future__ import annotations

import re

from engine.verify.fact_types import Fact, Key, Token
from engine.verify.numbers import number_run, parse_digits, words_value
from engine.verify.text import fold
from engine.verify.vocabulary import (
    CASED_UNITS,
    CURRENCIES,
    ORDINAL_SUFFIXES,
    PERCENT_PHRASES,
    SCALES,
    SECONDS,
    UNIT_QUALIFIERS,
    UNITS,
)

# No written-out number is longer ("quatre-vingt-dix-neuf mille neuf cent quatre-vingt-dix").
LONGEST_NUMBER = 12
_NUMBER_SUFFIX = re.compile(r"^(\d+(?:[.,]\d+)?)([^\W\d_]+)$")
_MERIDIEM = re.compile(r"(?i)([ap])\.?m\.?$")
_ELIDED = re.compile(r"^(?:[cdjlmnst]|qu)['’]", re.I)


def spoken_decimal(toks: list[Token], at: int, whole: float) -> tuple[float, int]:
    """ "five point five", "cinq virgule vingt-cinq": the value and where it ends."""
    if at + 1 >= len(toks) or toks[at].lower not in ("point", "virgule"):
        return whole, at
    run = number_run([t.lower for t in toks[at + 1 : at + 1 + LONGEST_NUMBER]], 0)
    fraction = words_value([t.lower for t in toks[at + 1 : at + 1 + run]]) if run else None
    if fraction is None:
        return whole, at
    digits = len(str(int(fraction)))
    return whole + fraction / 10**digits, at + 1 + run


def suffixed(toks: list[Token], i: int, lang: str) -> tuple[Fact | None, int]:
    """A number with letters attached ("5GB", "10k", "8am", "1st"), or a code ("MP3")."""
    token = toks[i]
    match = _NUMBER_SUFFIX.match(token.text)
    if match is None:
        return code(token), 1
    values, suffix = parse_digits(match.group(1), lang), match.group(2)
    lowered = suffix.casefold()
    if lowered in ("am", "pm") and len(values) == 1:
        return clock(token), 1
    if lowered in ORDINAL_SUFFIXES:
        return quantity(toks, i, values, i + 1)
    if lowered in SCALES:
        return quantity(toks, i, frozenset(v * SCALES[lowered] for v in values), i + 1)
    unit = CASED_UNITS.get(suffix) or UNITS.get(lowered)
    if unit is None:
        return code(token), 1
    return _make_quantity(toks[i], toks[i], values, unit), 1


def quantity(
    toks: list[Token], i: int, values: frozenset[float], after: int, needs_unit: bool = False
) -> tuple[Fact | None, int]:
    """A number at toks[i:after], with what follows it (scale, unit, percent, currency) and a
    currency sign or code just before it."""
    first, end = toks[i], after
    if end < len(toks) and toks[end].lower in SCALES and toks[end].lower != "k":
        values = frozenset(v * SCALES[toks[end].lower] for v in values)
        end += 1
        if end < len(toks) and toks[end].lower in ("of", "de", "d'", "d’"):
            end += 1
    unit, width = _unit_after(toks, end)
    if unit is None and i > 0 and _adjacent(toks[i - 1], first):
        before = toks[i - 1].lower
        currency = UNITS.get(before)
        if currency in CURRENCIES:
            first, unit = toks[i - 1], currency
    if unit is None and needs_unit:
        return None, after - i
    if width == 0 and end > after:  # a scale, no unit after it: "2 millions", "EUR 1.5 million"
        return _make_quantity(first, toks[end - 1], values, unit), end - i
    last = toks[end + width - 1] if width else toks[end - 1]
    if unit in ("am", "pm") and len(values) == 1:
        hours = next(iter(values)) % 12 + (12 if unit == "pm" else 0)
        return _time_fact(first, last, int(hours * 60)), end + width - i
    return _make_quantity(first, last, values, unit), end + width - i


def _unit_after(toks: list[Token], j: int) -> tuple[str | None, int]:
    """The unit starting at toks[j] (after at most one qualifier) and how many tokens it takes."""
    for skip in (0, 1):
        k = j + skip
        if k >= len(toks) or (skip and toks[j].lower not in UNIT_QUALIFIERS):
            break
        token = toks[k]
        name = _ELIDED.sub("", token.text)
        if token.kind == "word" and k + 1 < len(toks):
            pair = (token.lower, toks[k + 1].lower)
            if pair in PERCENT_PHRASES:
                return "%", skip + 2
        if token.lower in ("am", "pm", "a.m", "p.m"):
            return token.lower[0] + "m", skip + 1
        unit = CASED_UNITS.get(name) or UNITS.get(name.casefold())
        if unit is not None and token.kind in ("sym", "word"):
            if unit == "deg" and k + 1 < len(toks) and toks[k + 1].text in ("C", "F"):
                return "deg" + toks[k + 1].text, skip + 2
            return unit, skip + 1
    return None, 0


def _adjacent(a: Token, b: Token) -> bool:
    return 0 <= b.start - a.end <= 1


def _make_quantity(first: Token, last: Token, values: frozenset[float], unit: str | None) -> Fact:
    provides: list[Key] = []
    options: list[tuple[Key, ...]] = []
    for value in values:
        v = round(value, 6)
        provides.append(("v", v))
        if unit is None:
            provides.append(("bare", v))
            options.append((("v", v),))
            continue
        provides.append(("q", v, unit))
        options += [(("q", v, unit),), (("bare", v), ("unit", unit))]
        if unit in SECONDS:
            provides.append(("dur", round(v * SECONDS[unit], 3)))
            options.append((("dur", round(v * SECONDS[unit], 3)),))
        if unit == "hour" and v < 24:  # "8 h" is also a time of day in French
            provides.append(("time", int(v * 60)))
            options.append((("time", int(v * 60)),))
    if unit is not None:
        provides.append(("unit", unit))
    text = f"{first.text}" if first is last else f"{first.text}…{last.text}"
    return Fact("quantity", text, first.start, last.end, tuple(options), tuple(provides))


def clock(token: Token) -> Fact:
    """A clock time ("18:00", "14h30", "8:30 pm") as minutes after midnight."""
    digits = re.findall(r"\d+", token.text)
    hours, minutes = int(digits[0]), int(digits[1]) if len(digits) > 1 else 0
    meridiem = _MERIDIEM.search(token.text.replace(" ", ""))
    if meridiem:
        hours = hours % 12 + (12 if meridiem.group(1).lower() == "p" else 0)
    return _time_fact(token, token, hours * 60 + minutes)


def _time_fact(first: Token, last: Token, minutes: int) -> Fact:
    key: Key = ("time", minutes)
    provides = (key, ("v", float(minutes // 60)), ("v", float((minutes // 60) % 12 or 12)))
    return Fact("time", first.text, first.start, last.end, ((key,),), provides)


def code(token: Token) -> Fact:
    """A token with digits and letters ("x86_64", "3.10.2") taken literally."""
    key: Key = ("code", token.lower)
    options = ((key,), (("word", fold(token.text)),))
    return Fact("code", token.text, token.start, token.end, options, (key,))
