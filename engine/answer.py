"""Grounded answering: retrieve, prompt, generate, and check the citations."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from engine.grounding import Grounding, Policy, finish_answer, refused
from engine.i18n import REFUSAL_PHRASES, question_language, refusal
from engine.llms.base import AnswerModel, Generation, Prompt
from engine.llms.registry import ModelRegistry
from engine.prompts import build_prompt
from engine.question import Question
from engine.retrieval.retriever import Retriever
from engine.streaming import Delta, Finished, MarkerFilter, ModelRun, StreamEvent, model_pieces
from engine.verify.answerability import AnswerabilityCheck
from engine.verify.verdicts import Verifier
from kb.db.registry import Registry
from kb.models import Answer, KnowledgeBase, Passage

__all__ = ["Draft", "QueryService", "finish_answer"]


@dataclass(frozen=True)
class Draft:
    """A model's reply to a question, unchecked, with its passages and how to check it."""

    generation: Generation
    passages: list[Passage]
    grounding: Grounding


class QueryService:
    """Answers questions from one knowledge base, citing the passages used and checking every
    claim against them (``verifier``; None: answers are not verified)."""

    def __init__(
        self,
        registry: Registry,
        retriever: Retriever,
        models: ModelRegistry,
        max_new_tokens: int,
        verifier: Verifier | None = None,
        verification: Policy = "drop",
        answerability: AnswerabilityCheck | None = None,
    ) -> None:
        self._registry = registry
        self._retriever = retriever
        self._models = models
        self._max_new_tokens = max_new_tokens
        self._verifier = verifier
        self._verification = verification
        self._answerability = answerability

    def knowledge_base(self, kb_id: str) -> KnowledgeBase:
        """The knowledge base a question is asked of, read once (its row, no document counts)."""
        return self._registry.get_kb(kb_id, counts=False)

    @staticmethod
    def model_spec(kb: KnowledgeBase, requested: str | None) -> str | None:
        """The requested model spec, else the knowledge base's default (None: the server's)."""
        return requested or kb.default_model

    def grounding(self, question: Question, kb: KnowledgeBase) -> Grounding:
        """How this question's answer is checked: the request's policy, else the knowledge
        base's, else the server's; the refusal in the question's language."""
        policy = question.verification or kb.verification or self._verification
        return Grounding(
            self._verifier,
            policy,  # type: ignore[arg-type]  # stored values are checked on the way in
            refusal(self.language(question)),
            REFUSAL_PHRASES,
            question=question.text,
            answerability=self._answerability,
        )

    @staticmethod
    def language(question: Question) -> str:
        """The ISO code of the language to answer in: the question's, else the profile's."""
        return question_language(question.text, question.asker.language if question.asker else None)

    def _prompt(self, question: Question, passages: list[Passage]) -> Prompt:
        language = self.language(question)
        return build_prompt(question.text, passages, question.asker, language, refusal(language))

    def answer(self, question: Question, kb: KnowledgeBase | None = None) -> Answer:
        """A grounded answer, or an honest "not in the knowledge base".

        ``kb`` is the question's knowledge base when the caller has read it already.
        """
        draft = self.draft(question, kb)
        return finish_answer(draft.generation, draft.passages, draft.grounding)

    def draft(self, question: Question, kb: KnowledgeBase | None = None) -> Draft:
        """The model's reply before it is checked, with the passages it was written from and
        how it is to be checked (evaluation checks one draft under several policies)."""
        kb = kb or self.knowledge_base(question.kb_id)
        llm, passages = self._prepare(question, kb)
        grounding = self.grounding(question, kb)
        if not passages:
            return Draft(Generation("", llm.name), passages, grounding)
        prompt = self._prompt(question, passages)
        return Draft(llm.generate(prompt, self._max_new_tokens), passages, grounding)

    def stream(
        self, question: Question, kb: KnowledgeBase | None = None
    ) -> Generator[StreamEvent, None, None]:
        """Like ``answer``, as events: text deltas as generated, then the checked answer.

        The model is resolved and the passages retrieved before this returns, so those errors
        raise here rather than mid-stream; closing the generator stops the generation.
        """
        kb = kb or self.knowledge_base(question.kb_id)
        llm, passages = self._prepare(question, kb)
        prompt = self._prompt(question, passages)
        return self._stream(llm, prompt, passages, self.grounding(question, kb))

    def _prepare(self, question: Question, kb: KnowledgeBase) -> tuple[AnswerModel, list[Passage]]:
        """The answering model and the passages."""
        llm = self._models.get(self.model_spec(kb, question.model))
        return llm, self._retriever.search_in(kb, question.search_request())

    def _stream(
        self, llm: AnswerModel, prompt: Prompt, passages: list[Passage], grounding: Grounding
    ) -> Generator[StreamEvent, None, None]:
        if not passages:
            answer = refused(Generation("", llm.name), grounding)
            yield Delta(answer.answer)
            yield Finished(answer, streamed=answer.answer)
            return
        run = ModelRun(llm.name)
        markers = MarkerFilter(len(passages))
        pieces = model_pieces(llm, prompt, self._max_new_tokens, run)
        parts: list[str] = []
        shown: list[str] = []
        try:
            for piece in pieces:
                parts.append(piece)
                if text := markers.feed(piece):
                    shown.append(text)
                    yield Delta(text)
        finally:
            pieces.close()  # a client that went away stops the model too
        if rest := markers.flush():
            shown.append(rest)
            yield Delta(rest)
        generation = Generation("".join(parts), run.model, run.usage)
        answer = finish_answer(generation, passages, grounding)
        yield Finished(answer, streamed="".join(shown).strip())
