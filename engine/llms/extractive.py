"""The extractive answerer: no LLM, the passages' own sentences that best answer the question.

Sentences are ranked by their similarity to the question and by how much of the question's
content words they hold, each relative to the best sentence found, with a small preference for
higher-ranked passages and, for "how many" questions, for sentences holding a number. On the
question sets of ``data/eval`` this puts a sentence holding the expected answer among the three
chosen about twice as often as similarity alone (docs/evaluation.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.llms.base import NOT_FOUND_ANSWER, Generation, Prompt
from engine.llms.providers.base import ProviderConfig, ProviderSpec
from engine.verify.answerability import coverage, has_number, question_terms, wants_quantity
from kb.embeddings.base import Embedder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_BLOCK_BREAK = re.compile(r"\n[ \t]*\n")
_HEADING_LINE = re.compile(r"^#{1,6}\s")
_LIST_ITEM = re.compile(r"^(?:[-*+•]|\d{1,3}[.)])\s+")
_MIN_WORDS = 3
# A code with three digits or more ("ORD88412", "SKU-1042"): short lines holding one are kept.
_IDENTIFIER = re.compile(r"\b(?=(?:[^\W_]*\d){3})[^\W_][\w-]{3,}\b")


# Weights of the sentence score (similarity and coverage relative to the best sentence, plain
# coverage, passage rank, a number for a quantity question), fitted on the English set and
# checked on the French one and back (docs/evaluation.md).
_RELATIVE_SIMILARITY = 1.0
_RELATIVE_COVERAGE = 1.34
_COVERAGE = 0.7
_PASSAGE_RANK = 0.36
_NUMBER_FOR_QUANTITY = 0.1


@dataclass(frozen=True)
class _Candidate:
    passage_number: int
    position: int
    text: str


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage: hard-wrapped lines rejoined, list items and table rows kept
    whole, headings and fragments shorter than three words dropped (unless they hold a code
    such as an order number)."""
    units: list[str] = []
    for block in _BLOCK_BREAK.split(text):
        running: list[str] = []
        for line in (raw.strip() for raw in block.splitlines()):
            if not line:
                continue
            if _HEADING_LINE.match(line) or _LIST_ITEM.match(line) or " | " in line:
                units.append(" ".join(running))
                running = []
                if not _HEADING_LINE.match(line):  # headings are labels, not answers
                    units.append(_LIST_ITEM.sub("", line))
            else:
                if running and _is_label(running[-1]) and line[:1].isupper():
                    units.append(" ".join(running))  # "Pricing" above a sentence: a label
                    running = []
                running.append(line)
        units.append(" ".join(running))
    sentences = (" ".join(p.split()) for unit in units for p in _SENTENCE_END.split(unit))
    return [p for p in sentences if len(p.split()) >= _MIN_WORDS or _IDENTIFIER.search(p)]


def _is_label(line: str) -> bool:
    return len(line.split()) < 8 and not line.rstrip().endswith((".", "!", "?", ",", ";", ":"))


class ExtractiveModel:
    """Answers with up to ``max_sentences`` supporting sentences, each cited. Deterministic."""

    name = "extractive"

    def __init__(
        self, embedder: Embedder, max_sentences: int = 3, margin: float = 0.3, max_words: int = 120
    ) -> None:
        self._embedder = embedder
        self._max_sentences = max_sentences
        self._margin = margin
        self._max_words = max_words

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """The best-matching sentences in reading order, each followed by its citation."""
        candidates = [
            _Candidate(number, position, sentence)
            for number, passage in enumerate(prompt.passages, start=1)
            for position, sentence in enumerate(split_sentences(passage.chunk.text))
        ]
        if not candidates:
            return Generation(NOT_FOUND_ANSWER, self.name)
        scores = self._scores(prompt.question, candidates)
        ranked = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        best = scores[ranked[0]]
        chosen: list[int] = []
        words = 0
        for i in ranked:
            if len(chosen) >= self._max_sentences or scores[i] < best - self._margin:
                break
            length = len(candidates[i].text.split())
            if chosen and words + length > min(self._max_words, max_tokens):
                continue
            chosen.append(i)
            words += length
        ordered = sorted(
            chosen, key=lambda i: (candidates[i].passage_number, candidates[i].position)
        )
        text = " ".join(f"{candidates[i].text} [{candidates[i].passage_number}]" for i in ordered)
        return Generation(text, self.name)

    def _scores(self, question: str, candidates: list[_Candidate]) -> list[float]:
        """Each candidate's score as the module docstring says."""
        [asked] = self._embedder.embed([question], kind="query")
        vectors = self._embedder.embed([c.text for c in candidates])
        similarity = [sum(q * s for q, s in zip(asked, vec, strict=True)) for vec in vectors]
        terms = question_terms(question)
        covered = [coverage(terms, c.text) for c in candidates]
        quantity = wants_quantity(question)
        best_similarity, best_coverage = max(similarity), max(covered)
        return [
            _RELATIVE_SIMILARITY * (sim - best_similarity)
            + _RELATIVE_COVERAGE * (cov - best_coverage)
            + _COVERAGE * cov
            + _PASSAGE_RANK / c.passage_number
            + (_NUMBER_FOR_QUANTITY if quantity and has_number(c.text) else 0.0)
            for c, sim, cov in zip(candidates, similarity, covered, strict=True)
        ]


def _build(config: ProviderConfig) -> ExtractiveModel:
    return ExtractiveModel(config.embedder)


SPEC = ProviderSpec(name="extractive", build=_build)
