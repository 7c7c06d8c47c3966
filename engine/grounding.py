"""From a model's reply to the answer shown: refusals recognised, citation markers checked, every
claim verified against the passages it cites, and each citation's supporting quote located in
its document.

Verification policies: ``drop`` removes unsupported claims (an answer left with none is the
honest "not in the knowledge base"), ``flag`` keeps them and says which they are, ``off`` skips
verification (``grounded`` then only means "the model answered from retrieved passages").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from engine.llms.base import NOT_FOUND_ANSWER, Generation
from engine.verify.answer import Verification, corrected_citations, verify_answer
from engine.verify.answerability import AnswerabilityCheck
from engine.verify.verdicts import ClaimVerdict, Verifier
from kb.models import Answer, Citation, ClaimCheck, Passage

Policy = Literal["drop", "flag", "off"]
POLICIES: tuple[str, ...] = get_args(Policy)

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


@dataclass(frozen=True)
class Grounding:
    """How a reply is checked: the verifier (None: no verification), the policy, the refusal to
    give in the question's language, other refusal phrases to recognise in replies, and the
    check that the supported claims answer ``question`` at all."""

    verifier: Verifier | None = None
    policy: Policy = "drop"
    refusal: str = NOT_FOUND_ANSWER
    refusals: tuple[str, ...] = ()
    question: str = ""
    answerability: AnswerabilityCheck | None = None

    @property
    def verifying(self) -> bool:
        """Whether claims are checked at all."""
        return self.verifier is not None and self.policy != "off"


def finish_answer(
    generation: Generation, passages: list[Passage], grounding: Grounding | None = None
) -> Answer:
    """Check a reply against the passages it was written from and build the answer."""
    grounding = grounding or Grounding()
    text = generation.text.strip()
    if not text or is_refusal(text, grounding.refusals):
        return refused(generation, grounding)
    text, cited = check_markers(text, len(passages))
    if not grounding.verifying:
        # A model that cites nothing still answered from these passages: show them all.
        numbers = cited or list(range(1, len(passages) + 1))
        citations = [citation(n, passages[n - 1]) for n in numbers]
        return Answer(text, citations, generation.model, True, generation.usage)
    assert grounding.verifier is not None and grounding.policy != "off"
    checked = verify_answer(
        text, [p.chunk.text for p in passages], grounding.verifier, grounding.policy
    )
    return _verified(generation, passages, checked, grounding)


def refused(
    generation: Generation,
    grounding: Grounding,
    claims: list[ClaimCheck] | None = None,
    dropped: int = 0,
) -> Answer:
    """The honest "not in the knowledge base", in the question's language, with the claims
    that were checked when the reply came to this (none were supported, or none answered)."""
    policy = grounding.policy if grounding.verifying else "off"
    return Answer(
        grounding.refusal, [], generation.model, False, generation.usage, claims or [], policy,
        dropped,
    )  # fmt: skip


def _verified(
    generation: Generation, passages: list[Passage], checked: Verification, grounding: Grounding
) -> Answer:
    claims = [claim_check(v) for v in checked.verdicts]
    dropped = len(checked.unsupported) if checked.policy == "drop" else 0
    text, cited = check_markers(checked.text, len(passages))
    if not text.strip() or not checked.verdicts:
        return refused(generation, grounding, claims, dropped)
    numbers = cited or list(range(1, len(passages) + 1))
    quotes = _quotes(checked.verdicts)
    citations = [citation(n, passages[n - 1], quotes.get(n)) for n in numbers]
    # Under "drop" what is shown is what was supported; under "flag" unsupported claims stay.
    grounded = checked.supported or checked.policy == "drop"
    if not _answers_question(checked, [passages[n - 1] for n in numbers], grounding):
        if checked.policy == "drop":
            return refused(generation, grounding, claims, dropped)
        grounded = False
    return Answer(
        text, citations, generation.model, grounded, generation.usage, claims, checked.policy,
        dropped,
    )  # fmt: skip


def _answers_question(checked: Verification, cited: list[Passage], grounding: Grounding) -> bool:
    """Whether the supported claims' evidence answers the question (near misses do not)."""
    if grounding.answerability is None or not grounding.question:
        return True
    evidence = [v.quote for v in checked.verdicts if v.supported and v.quote]
    verdict = grounding.answerability.check(
        grounding.question, evidence, [p.chunk.text for p in cited]
    )
    return verdict.answerable


def claim_check(verdict: ClaimVerdict) -> ClaimCheck:
    """What a client is told about one claim."""
    return ClaimCheck(
        text=verdict.claim.text,
        supported=verdict.supported,
        citations=tuple(corrected_citations(verdict)),
        score=round(float(verdict.score), 4),
    )


def _quotes(verdicts: Sequence[ClaimVerdict]) -> dict[int, tuple[int, int]]:
    """Per passage number, the span of its text that supports the claims citing it: from the
    first supporting window to the end of the last (one quote per citation)."""
    spans: dict[int, tuple[int, int]] = {}
    for verdict in verdicts:
        if not verdict.supported or verdict.passage is None or verdict.end <= verdict.start:
            continue
        for number in corrected_citations(verdict):
            if number != verdict.passage:
                continue
            low, high = spans.get(number, (verdict.start, verdict.end))
            spans[number] = (min(low, verdict.start), max(high, verdict.end))
    return spans


def is_refusal(text: str, extra: Sequence[str] = ()) -> bool:
    """Whether a short reply says, in effect, "not in the passages"."""
    lowered = text.lower()
    if len(lowered) > _MAX_REFUSAL_CHARS:
        return False
    phrases = (*_REFUSALS, *(p.lower().rstrip(".") for p in extra))
    return any(phrase in lowered for phrase in phrases)


def check_markers(text: str, passage_count: int) -> tuple[str, list[int]]:
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


def citation(number: int, passage: Passage, span: tuple[int, int] | None = None) -> Citation:
    """Passage ``number`` as cited; ``span`` (offsets in the chunk's text) locates its quote,
    given in document offsets."""
    chunk = passage.chunk
    score = passage.similarity if passage.similarity is not None else passage.score
    quote = start = end = None
    if span is not None:
        quote = chunk.text[span[0] : span[1]]
        start, end = chunk.start_char + span[0], chunk.start_char + span[1]
    return Citation(
        number=number,
        document_id=chunk.document_id,
        title=chunk.title,
        source=chunk.source,
        page=chunk.page,
        text=chunk.text,
        score=round(score, 4),
        chunk_id=chunk.id,
        quote=quote,
        start=start,
        end=end,
    )
