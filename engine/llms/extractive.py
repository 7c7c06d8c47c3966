"""The extractive answerer: no LLM, the passages' own sentences that best answer the question."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.llms.base import Generation, Prompt
from engine.prompts import NOT_FOUND_ANSWER
from kb.embeddings import Embedder

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
_MIN_WORDS = 3


@dataclass(frozen=True)
class _Candidate:
    passage_number: int
    position: int
    text: str


def split_sentences(text: str) -> list[str]:
    """Sentences of a passage, headings and fragments shorter than three words dropped."""
    parts = (" ".join(p.split()) for p in _SENTENCE_END.split(text))
    return [p for p in parts if len(p.split()) >= _MIN_WORDS]


class ExtractiveModel:
    """Answers with up to ``max_sentences`` supporting sentences, each cited. Deterministic."""

    name = "extractive"

    def __init__(
        self, embedder: Embedder, max_sentences: int = 3, margin: float = 0.12, max_words: int = 120
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
        question, *sentences = self._embedder.embed(
            [prompt.question, *(c.text for c in candidates)]
        )
        scores = [sum(q * s for q, s in zip(question, vec, strict=True)) for vec in sentences]
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
