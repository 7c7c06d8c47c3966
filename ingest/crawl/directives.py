"""Page-level robots directives (``<meta name="robots">`` and the ``X-Robots-Tag`` header): which
of them apply to this crawler, and what they ask.

Following Google's semantics, a directive applies to us when it names no crawler, or names our
user agent's product token (``kb-engine-crawler`` of ``kb-engine-crawler/0.1 (+...)``):
``X-Robots-Tag: googlebot: noindex`` and ``<meta name="googlebot" content="noindex">`` are
for another crawler and are left alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Directives whose value follows a colon: "max-snippet: 20" names no crawler.
_VALUED = frozenset({"unavailable_after", "max-snippet", "max-image-preview", "max-video-preview"})
_SCOPED = re.compile(r"([a-z0-9._-]+)\s*:\s*(.*)", re.S)


def agent_token(user_agent: str) -> str:
    """The product token of a User-Agent string, lowercased ("" when there is none)."""
    parts = user_agent.strip().split(None, 1)
    return parts[0].split("/", 1)[0].lower() if parts else ""


@dataclass(frozen=True)
class Directives:
    """What the page's applicable robots directives ask of us."""

    noindex: bool = False
    nofollow: bool = False

    def __or__(self, other: Directives) -> Directives:
        return Directives(self.noindex or other.noindex, self.nofollow or other.nofollow)


def _parse(words: Iterable[str]) -> Directives:
    found = {word.strip().lower() for word in words}
    return Directives(
        noindex=bool(found & {"noindex", "none"}), nofollow=bool(found & {"nofollow", "none"})
    )


def meta_directives(name: str, content: str, token: str) -> Directives:
    """The directives of ``<meta name=... content=...>`` that apply to the crawler ``token``."""
    name = name.strip().lower()
    if name != "robots" and (not token or name != token):
        return Directives()
    return _parse(content.split(","))


def header_directives(values: Iterable[str], token: str) -> Directives:
    """The directives of the ``X-Robots-Tag`` header lines ``values`` that apply to ``token``.

    A ``<crawler>:`` prefix scopes the directives after it, up to the next prefix or the end of
    that header line; each line starts unscoped.
    """
    applies: list[str] = []
    for value in values:
        scope: str | None = None
        for part in value.split(","):
            match = _SCOPED.fullmatch(part.strip().lower())
            if match and match.group(1) not in _VALUED:
                scope, part = match.group(1), match.group(2)
            if scope is None or (token and scope == token):
                applies.append(part)
    return _parse(applies)
