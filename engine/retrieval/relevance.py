"""The relevance floor: which retrieved passages count as evidence for a question at all.

A passage is kept when either retriever vouches for it:

- dense: its cosine similarity to the question reaches the dense floor (``min_score``);
- lexical: it is a BM25 hit that contains content terms carrying at least ``min_term_coverage``
  of the query's term weight (each term weighs its IDF, as in BM25), or a distinctive query
  term: an identifier such as ORD88412, SKU4471 or 88412, which no unrelated passage contains
  by chance, so a match on it is evidence even when the question's other words are not.

Cosine similarity alone cannot judge a lexical hit: a sentence embedding has no notion of an
order number, so "Reference ORD88412" sits at cosine 0.12-0.27 from the question "ORD88412",
under any useful dense floor. Coverage still rejects off-topic questions: in "What is the
capital of Mongolia?" a passage that merely mentions "capital" carries half the weight at most,
because the terms the knowledge base never mentions ("mongolia") weigh the most.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.index.lexical import LexicalHit

# An identifier rather than a word, count, year, time or ordinal (2024, 10am, 21st, A4): shorter
# digit-bearing tokens recur in unrelated passages.
_MIN_ID_CHARS = 5
_MIN_ID_DIGITS = 3


def is_distinctive(term: str) -> bool:
    """Whether a query term names one thing: at least five characters, three of them digits
    (ORD88412, SKU4471, QX9047, an order or ticket number such as 88412)."""
    return len(term) >= _MIN_ID_CHARS and sum(c.isdigit() for c in term) >= _MIN_ID_DIGITS


def names_an_identifier(hit: LexicalHit) -> bool:
    """Whether a BM25 hit contains one of the query's identifiers (an exact match)."""
    return any(is_distinctive(term) for term in hit.matched)


@dataclass(frozen=True)
class RelevanceFloor:
    """The two floors a passage may pass: ``dense`` (cosine similarity, -1 keeps everything)
    and ``lexical`` (term coverage of a BM25 hit, 0 keeps every hit)."""

    dense: float
    lexical: float

    def vouched_by_lexical(self, hit: LexicalHit) -> bool:
        """Whether a BM25 hit is relevant on its own terms, whatever its cosine similarity."""
        return hit.coverage >= self.lexical or names_an_identifier(hit)

    def vouched_by_dense(self, similarity: float) -> bool:
        """Whether a cosine similarity passes the dense floor."""
        return similarity >= self.dense
