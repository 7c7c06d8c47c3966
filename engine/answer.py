"""Grounded answering: retrieve, prompt, generate, and check the citations."""

from __future__ import annotations

import re
from collections.abc import Generator

from engine.llms.base import AnswerModel, Generation, Prompt
from engine.llms.registry import ModelRegistry
from engine.prompts import NOT_FOUND_ANSWER, build_prompt
from engine.question import Question
from engine.retrieval.retriever import Retriever
from engine.streaming import Delta, Finished, MarkerFilter, ModelRun, StreamEvent, model_pieces
from kb.db.registry import Registry
from kb.models import Answer, Citation, KnowledgeBase, Passage

_MARKER = re.compile(r"\[(\d{1,3})\]")
_REFUSALS = (
    NOT_FOUND_ANSWER.lower().rstrip("."),
    "does not contain an answer",
    "do not contain the answer",
    "does not contain the answer",
    "i don't know",
    "i do not know",
    "i'm not sure",
    "i am not sure",
    "does not provide any information",
    "do not provide any information",
    "does not mention",
    "do not mention",
    "no information about",
)
# A long answer that mentions a gap somewhere is still an answer; only short replies whose gist
# is "not in the passages" count as refusals.
_MAX_REFUSAL_CHARS = 300


class QueryService:
    """Answers questions from one knowledge base, citing the passages used."""

    def __init__(
        self, registry: Registry, retriever: Retriever, models: ModelRegistry, max_new_tokens: int
    ) -> None:
        self._registry = registry
        self._retriever = retriever
        self._models = models
        self._max_new_tokens = max_new_tokens

    def knowledge_base(self, kb_id: str) -> KnowledgeBase:
        """The knowledge base a question is asked of, read once (its row, no document counts)."""
        return self._registry.get_kb(kb_id, counts=False)

    @staticmethod
    def model_spec(kb: KnowledgeBase, requested: str | None) -> str | None:
        """The requested model spec, else the knowledge base's default (None: the server's)."""
        return requested or kb.default_model

    def answer(self, question: Question, kb: KnowledgeBase | None = None) -> Answer:
        """A grounded answer, or an honest "not in the knowledge base".

        ``kb`` is the question's knowledge base when the caller has read it already.
        """
        llm, passages = self._prepare(question, kb)
        if not passages:
            return Answer(NOT_FOUND_ANSWER, [], llm.name, grounded=False)
        prompt = build_prompt(question.text, passages, question.asker)
        generation = llm.generate(prompt, self._max_new_tokens)
        return finish_answer(generation, passages)

    def stream(
        self, question: Question, kb: KnowledgeBase | None = None
    ) -> Generator[StreamEvent, None, None]:
        """Like ``answer``, as events: text deltas as generated, then the checked answer.

        The model is resolved and the passages retrieved before this returns, so those errors
        raise here rather than mid-stream; closing the generator stops the generation.
        """
        llm, passages = self._prepare(question, kb)
        prompt = build_prompt(question.text, passages, question.asker)
        return self._stream(llm, prompt, passages)

    def _prepare(
        self, question: Question, kb: KnowledgeBase | None
    ) -> tuple[AnswerModel, list[Passage]]:
        """The answering model and the passages: the knowledge base is read at most once."""
        kb = kb or self.knowledge_base(question.kb_id)
        llm = self._models.get(self.model_spec(kb, question.model))
        return llm, self._retriever.search_in(kb, question.search_request())

    def _stream(
        self, llm: AnswerModel, prompt: Prompt, passages: list[Passage]
    ) -> Generator[StreamEvent, None, None]:
        if not passages:
            yield Delta(NOT_FOUND_ANSWER)
            yield Finished(Answer(NOT_FOUND_ANSWER, [], llm.name, grounded=False))
            return
        run = ModelRun(llm.name)
        markers = MarkerFilter(len(passages))
        pieces = model_pieces(llm, prompt, self._max_new_tokens, run)
        parts: list[str] = []
        try:
            for piece in pieces:
                parts.append(piece)
                if text := markers.feed(piece):
                    yield Delta(text)
        finally:
            pieces.close()  # a client that went away stops the model too
        if rest := markers.flush():
            yield Delta(rest)
        yield Finished(finish_answer(Generation("".join(parts), run.model, run.usage), passages))


def finish_answer(generation: Generation, passages: list[Passage]) -> Answer:
    """Check citation markers against the passages given and build the answer."""
    text = generation.text.strip()
    if not text or _is_refusal(text):
        return Answer(NOT_FOUND_ANSWER, [], generation.model, False, generation.usage)
    text, cited = _check_markers(text, len(passages))
    # A model that cites nothing still answered from these passages: show them all.
    numbers = cited or list(range(1, len(passages) + 1))
    citations = [_citation(n, passages[n - 1]) for n in numbers]
    return Answer(text, citations, generation.model, True, generation.usage)


def _is_refusal(text: str) -> bool:
    lowered = text.lower()
    return len(lowered) <= _MAX_REFUSAL_CHARS and any(phrase in lowered for phrase in _REFUSALS)


def _check_markers(text: str, passage_count: int) -> tuple[str, list[int]]:
    """Remove markers that point at no passage; return the text and the valid numbers in order."""
    cited: list[int] = []

    def keep(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= passage_count:
            if number not in cited:
                cited.append(number)
            return match.group(0)
        return ""

    cleaned = _MARKER.sub(keep, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip(), cited


def _citation(number: int, passage: Passage) -> Citation:
    chunk = passage.chunk
    return Citation(
        number=number,
        document_id=chunk.document_id,
        title=chunk.title,
        source=chunk.source,
        page=chunk.page,
        text=chunk.text,
        score=round(passage.similarity if passage.similarity is not None else passage.score, 4),
        chunk_id=chunk.id,
    )
