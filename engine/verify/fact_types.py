"""What the fact extractors share: the text's tokens and the Fact they build."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Key = tuple[Any, ...]

_TOKEN = re.compile(
    r"(?P<iso>\b\d{4}-\d{1,2}-\d{1,2}\b)"
    r"|(?P<dmy>\b\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})\b)"
    r"|(?P<clock>\b\d{1,2}(?::\d{2}|h\d{2})\b(?:\s?(?:[ap]\.m\.|[ap]m\b))?)"
    r"|(?P<version>\b\d+(?:\.\d+){2,}\b)"
    r"|(?P<code>\b(?=\w*\d)(?=\w*[^\W\d_])\w+)"
    r"|(?P<num>\d{1,3}(?:(?:[ \u00a0\u202f]|,|\.)\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?)"
    r"|(?P<word>[^\W\d_]+(?:['’\-][^\W\d_]+)*)"
    r"|(?P<sym>[€$£¥%°])"
)


@dataclass(frozen=True)
class Token:
    """A piece of text with its kind (a group name of ``_TOKEN``) and its span."""

    kind: str
    text: str
    start: int
    end: int
    lower: str


@dataclass(frozen=True)
class Fact:
    """A hard fact of a claim: its words, where they are, and what a passage must hold."""

    kind: str  # quantity, date, time, weekday, code, name
    text: str
    start: int
    end: int
    # Alternatives; each alternative is a set of keys that must all be present.
    options: tuple[tuple[Key, ...], ...]
    provides: tuple[Key, ...] = ()


def tokens(text: str) -> list[Token]:
    """The text cut into dates, clock times, versions, codes, numbers, words and symbols."""
    return [
        Token(m.lastgroup or "sym", m.group(), m.start(), m.end(), m.group().casefold())
        for m in _TOKEN.finditer(text)
    ]
