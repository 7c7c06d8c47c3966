"""Hard facts of a text — numbers, amounts, percentages, dates, times, durations, units, codes
and proper names — normalised so that the same fact written two ways compares equal.

A passage's facts become a set of keys (``fact_keys``); a claim's fact is present when one of
its alternative requirements is all in that set: "three days" and "3 jours" both need
``("q", 3.0, "day")``; "03/12/2026" is either date, so either key will do.
"""

from __future__ import annotations

import re

from engine.verify.amounts import LONGEST_NUMBER, clock, code, quantity, spoken_decimal, suffixed
from engine.verify.dates import date_fact, named_dates, valid_dates
from engine.verify.fact_types import Fact, Key, Token, tokens
from engine.verify.numbers import AMBIGUOUS_ALONE, number_run, parse_digits, words_value
from engine.verify.text import STOPWORDS, fold, language, words
from engine.verify.vocabulary import MONTHS, NOT_NAMES, WEEKDAYS

__all__ = ["Fact", "Key", "extract_facts", "fact_keys", "tokens"]

_DOT_THOUSANDS = re.compile(r"^\d{1,3}(?:\.\d{3})+$")
_ELIDED = re.compile(r"^(?:[cdjlmnst]|qu)['’]", re.I)


def fact_keys(text: str, lang: str | None = None) -> frozenset[Key]:
    """Every key the facts of ``text`` provide: what a claim's fact options are checked in."""
    keys: set[Key] = set()
    for fact in extract_facts(text, names=False, lang=lang):
        keys.update(fact.provides)
    return frozenset(keys)


def extract_facts(text: str, names: bool = True, lang: str | None = None) -> list[Fact]:
    """Every hard fact of ``text`` in reading order; proper names only when ``names``.
    ``lang`` ('en' or 'fr', guessed when None) decides how "1,500" reads."""
    # "Â°" is "°" read with the wrong encoding (common in web text); same length, so the
    # offsets of the facts still point into ``text``.
    toks = tokens(text.replace("Â°", " °"))
    lang = lang or language(words(text))
    used: set[int] = set()
    facts = named_dates(toks, used)
    i = 0
    while i < len(toks):
        if i in used:
            i += 1
            continue
        fact, width = _fact_at(toks, i, lang)
        if fact is not None:
            facts.append(fact)
            used.update(range(i, i + width))
        i += max(width, 1)
    if names:
        facts.extend(_names(toks, used))
    facts.sort(key=lambda f: f.start)
    return facts


def _fact_at(toks: list[Token], i: int, lang: str) -> tuple[Fact | None, int]:
    token = toks[i]
    if token.kind == "iso":
        y, m, d = (int(p) for p in token.text.split("-"))
        return date_fact(token, token, ((y, m, d),)), 1
    if token.kind == "dmy":
        a, b, y = (int(p) for p in re.split(r"[/.\-]", token.text))
        y = y + 2000 if y < 100 else y
        readings = tuple({(y, b, a), (y, a, b)} & valid_dates(y, (a, b)))
        return (date_fact(token, token, readings), 1) if readings else (None, 1)
    if token.kind == "clock":
        return clock(token), 1
    if token.kind == "version" and not _DOT_THOUSANDS.match(token.text):
        return code(token), 1
    if token.kind == "code":
        return suffixed(toks, i, lang)
    if token.kind in ("num", "version"):
        return quantity(toks, i, parse_digits(token.text, lang), i + 1)
    if token.kind == "word":
        if token.lower in WEEKDAYS:
            day = int(WEEKDAYS[token.lower])
            key: Key = ("wd", day)
            return Fact("weekday", token.text, token.start, token.end, ((key,),), (key,)), 1
        run = number_run([t.lower for t in toks[i : i + LONGEST_NUMBER]], 0)
        value = words_value([t.lower for t in toks[i : i + run]]) if run else None
        if value is not None:
            value, after = spoken_decimal(toks, i + run, value)
            alone = after == i + 1 and token.lower in AMBIGUOUS_ALONE
            return quantity(toks, i, frozenset({value}), after, needs_unit=alone)
    return None, 1


def _names(toks: list[Token], used: set[int]) -> list[Fact]:
    """Proper names: capitalised words not at the start, or at the start when several
    capitalised words run together or the word is an acronym ("NASA", "GitHub")."""
    found: list[Fact] = []
    words_seen = 0
    for i, token in enumerate(toks):
        if token.kind != "word" or i in used:
            words_seen += token.kind in ("word", "num", "code")
            continue
        name = _ELIDED.sub("", token.text)
        name = re.sub(r"['’]s$", "", name)
        if _is_name(name, words_seen == 0, toks, i):
            for part in name.split("-"):
                key: Key = ("word", fold(part))
                found.append(Fact("name", part, token.start, token.end, ((key,),)))
        words_seen += 1
    return found


def _is_name(name: str, first: bool, toks: list[Token], i: int) -> bool:
    if not name[:1].isupper() or fold(name) in STOPWORDS or fold(name) in NOT_NAMES:
        return False
    if fold(name) in MONTHS or fold(name) in WEEKDAYS:
        return False
    if not first:
        return True
    acronym = len(name) > 1 and name.isupper()
    inner_capital = any(c.isupper() for c in name[1:])
    following = i + 1 < len(toks) and toks[i + 1].kind == "word" and toks[i + 1].text[:1].isupper()
    return acronym or inner_capital or following
