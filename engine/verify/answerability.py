"""Does the evidence answer the question? Verification checks that each claim is supported by a
passage; a supported claim can still miss the question (the on-topic "near miss": the handbook
has holidays, the question asks about parental leave). This check looks at the question and the
evidence the answer rests on, with no model beyond the embedder:

- similarity: the best cosine between the question and a sentence of the evidence;
- sentence coverage: the share of the question's content words (stems, English or French, as
  the claim checks count them) found in the best-covering evidence sentence;
- passage coverage: the same share over the passages cited;
- similarity may be low when one evidence sentence holds every content word of the question
  (an order number or product code typed alone);
- a question asking for a quantity ("how many", "combien", "wie viele", ...) needs a number.

The thresholds were chosen on the question sets of ``data/eval`` (English and French
documentation, pooled; off-topic and near-miss questions against answerable ones): see
docs/evaluation.md for the figures and what the heuristic misses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.verify.numbers import NUMBER_WORDS
from engine.verify.text import content_stems, language, words, wordset
from kb.embeddings.base import Embedder

_QUANTITY = re.compile(
    r"(?i)\b(?:how (?:many|much|long|big|large|old|often|far|fast|high|low|soon)"
    r"|what (?:percentage|number|size|amount|length|proportion)|combien"
    r"|quel(?:le)?s? (?:taille|durée|quantité|longueur|nombre|pourcentage|délai|montant)"
    r"|wie (?:viele?|lange|groß|oft|weit)|cu[aá]nt[oa]s?|quant[oiae])\b"
)
_DIGIT = re.compile(r"\d")
# Words that ask rather than tell ("how many", "combien"): not content the evidence must hold.
_QUESTION_WORDS = wordset("many much combien viele viel cuantos cuantas cuanto quanti quante")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")


@dataclass(frozen=True)
class AnswerabilityThresholds:
    """Least similarity and coverages for evidence to count as answering the question."""

    similarity: float = 0.55
    sentence_coverage: float = 0.3
    passage_coverage: float = 0.5


@dataclass(frozen=True)
class Answerability:
    """The verdict on a question and its evidence, with the measures it rests on."""

    answerable: bool
    similarity: float
    sentence_coverage: float
    passage_coverage: float
    reason: str


def question_terms(question: str) -> frozenset[str]:
    """The question's content stems (question words and other stop words left out)."""
    tokens = [t for t in words(question) if t not in _QUESTION_WORDS]
    return frozenset(content_stems(tokens, language(tokens)))


def coverage(terms: frozenset[str], text: str) -> float:
    """Share of ``terms`` among the content stems of ``text`` (1.0 when there are no terms)."""
    if not terms:
        return 1.0
    tokens = words(text)
    return len(terms & set(content_stems(tokens, language(tokens)))) / len(terms)


def wants_quantity(question: str) -> bool:
    """Whether the question asks for a number (how many, combien, wie viele, ...)."""
    return _QUANTITY.search(question) is not None


def has_number(text: str) -> bool:
    """Whether the text holds a number, in digits or in words ("three", "trois")."""
    return _DIGIT.search(text) is not None or any(w in NUMBER_WORDS for w in words(text))


class AnswerabilityCheck:
    """Whether evidence sentences (an answer's quotes) answer a question; see the module."""

    def __init__(self, embedder: Embedder, thresholds: AnswerabilityThresholds | None = None):
        self._embedder = embedder
        self.thresholds = thresholds or AnswerabilityThresholds()

    def check(
        self, question: str, evidence: Sequence[str], passages: Sequence[str]
    ) -> Answerability:
        """The verdict for ``evidence`` (the supporting sentences) from ``passages``."""
        sentences = [s for text in evidence for s in _SENTENCE.split(text) if s.strip()]
        if not sentences:
            return Answerability(False, 0.0, 0.0, 0.0, "no evidence")
        terms = question_terms(question)
        sentence_cov = max(coverage(terms, s) for s in sentences)
        passage_cov = max((coverage(terms, p) for p in passages), default=sentence_cov)
        vectors = np.asarray(self._embedder.embed([question, *sentences]), dtype=np.float32)
        similarity = float(np.max(vectors[1:] @ vectors[0]))
        t = self.thresholds
        reason = ""
        # Every word of the question in one sentence (an order number typed alone, say) is
        # evidence enough whatever the similarity.
        if similarity < t.similarity and not (terms and sentence_cov == 1.0):
            reason = "the evidence is not about the question"
        elif sentence_cov < t.sentence_coverage or passage_cov < t.passage_coverage:
            reason = "the evidence lacks what the question asks about"
        elif wants_quantity(question) and not any(has_number(s) for s in sentences):
            reason = "the question asks for a number the evidence does not give"
        return Answerability(
            not reason, round(similarity, 4), round(sentence_cov, 4), round(passage_cov, 4),
            reason or "answerable",
        )  # fmt: skip
