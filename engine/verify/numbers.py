"""Numbers written out in English and French ("twenty-one", "vingt et un", "quatre-vingt-dix")
and in digits with either locale's separators ("1,000", "1 000", "1.000", "3,5")."""

from __future__ import annotations

import re

_UNITS_EN = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_UNITS_FR = {
    "zéro": 0, "zero": 0, "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5,
    "six": 6, "sept": 7, "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12,
    "treize": 13, "quatorze": 14, "quinze": 15, "seize": 16, "vingt": 20, "vingts": 20,
    "trente": 30, "quarante": 40, "cinquante": 50, "soixante": 60, "septante": 70,
    "huitante": 80, "octante": 80, "nonante": 90,
}  # fmt: skip
_HUNDREDS = {"hundred": 100, "cent": 100, "cents": 100}
_SCALES = {
    "thousand": 1_000, "mille": 1_000, "million": 1_000_000, "millions": 1_000_000,
    "billion": 1_000_000_000, "billions": 1_000_000_000, "milliard": 1_000_000_000,
    "milliards": 1_000_000_000,
}  # fmt: skip
_JOINERS = frozenset({"and", "et"})
SMALL_NUMBERS = {**_UNITS_EN, **_UNITS_FR}
NUMBER_WORDS = frozenset(SMALL_NUMBERS) | frozenset(_HUNDREDS) | frozenset(_SCALES)
# Words that are numbers only in company: "un"/"one" are mostly articles or pronouns, "neuf" is
# also "new". They count alone only before a unit ("one day", "un mois").
AMBIGUOUS_ALONE = frozenset({"one", "un", "une", "neuf", "a", "an", "cent", "cents"})

_SPACE_GROUPS = re.compile(r"^\d{1,3}(?:[ \u00a0\u202f'’]\d{3})+(?:[.,]\d+)?$")
_COMMA_GROUPS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DOT_GROUPS = re.compile(r"^\d{1,3}(?:\.\d{3})+(?:,\d+)?$")


def parse_digits(text: str, lang: str = "en") -> frozenset[float]:
    """Every value a digit string can mean in a text of language ``lang``: "3,5" is 3.5;
    "1 000", "1,000,000" and "1.000.000" are thousands; a single group is read by locale —
    "1,500" is 1500 in English but 1.5 or 1500 in French, "1.500" 1.5 or 1500 in English and
    1500 in French — so both readings are kept where a locale allows both."""
    if _SPACE_GROUPS.match(text):
        return frozenset({float(re.sub(r"[ \u00a0\u202f'’]", "", text).replace(",", "."))})
    plain = re.fullmatch(r"\d+(?:[.,]\d+)?", text)
    decimal = {float(text.replace(",", "."))} if plain else set()
    if _COMMA_GROUPS.match(text):  # a single group ("1,500") is also a French decimal
        return frozenset({float(text.replace(",", ""))} | (decimal if lang == "fr" else set()))
    if _DOT_GROUPS.match(text):  # a single group ("1.500") is also an English decimal
        thousands = float(text.replace(".", "").replace(",", "."))
        return frozenset({thousands} | (decimal if lang != "fr" else set()))
    return frozenset(decimal)


def parse_words(parts: list[str]) -> float | None:
    """The value of number words in order ("one", "hundred", "and", "five"; "quatre", "vingt",
    "dix"), or None if they do not form a number."""
    total, current, seen = 0, 0, False
    previous = ""
    for part in parts:
        if part in _JOINERS:
            continue
        if part in ("vingt", "vingts") and previous == "quatre":
            current = current - 4 + 80  # quatre-vingt(s): 4 x 20
        elif part in SMALL_NUMBERS:
            current += SMALL_NUMBERS[part]
        elif part in _HUNDREDS:
            current = (current or 1) * 100
        elif part in _SCALES:
            total += max(current, 1) * _SCALES[part]
            current = 0
        else:
            return None
        seen = True
        previous = part
    return float(total + current) if seen else None


def number_run(tokens: list[str], start: int) -> int:
    """How many tokens from ``start`` form one written-out number (0 if none): words of
    ``NUMBER_WORDS`` and hyphenated compounds of them, "and"/"et" only between two of them,
    "a"/"an" only before a scale ("a hundred")."""
    end = start
    while end < len(tokens) and _continues(tokens, start, end):
        end += 1
    return end - start


def _continues(tokens: list[str], start: int, at: int) -> bool:
    token = tokens[at]
    parts = token.split("-")
    if parts[0] not in _JOINERS and all(p in NUMBER_WORDS or p in _JOINERS for p in parts):
        return True
    following = tokens[at + 1] if at + 1 < len(tokens) else ""
    if token in _JOINERS:
        return at > start and following.split("-")[0] in NUMBER_WORDS
    return token in ("a", "an") and at == start and following in _HUNDREDS | _SCALES.keys()


def words_value(tokens: list[str]) -> float | None:
    """The value of a run found by ``number_run``."""
    parts = [p for token in tokens for p in token.split("-")]
    if parts and parts[0] in ("a", "an"):
        parts[0] = "one"
    return parse_words(parts)
