"""Turning a user's question into a safe FTS5 query for the lexical index."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"\w+", re.UNICODE)

# English function words: in a question they match nearly every passage and only add noise to
# BM25 (measured on the shared MS MARCO sample: nDCG@10 0.608 -> 0.621 without them).
STOP_WORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    }
)


def fts_query(text: str) -> str:
    """An FTS5 query matching any content word of ``text`` (all words when there are only
    function words); every word is quoted, so no operator syntax in user input reaches FTS5."""
    words = list(
        dict.fromkeys(w.lower() for w in _TOKEN.findall(text) if len(w) > 1 or w.isdigit())
    )
    content = [w for w in words if w not in STOP_WORDS] or words
    return " OR ".join(f'"{w}"' for w in content[:64])
