"""Answer evaluation: questions with expected answer strings, or marked unanswerable, asked of
one knowledge base; each reply is checked unverified and under the "drop" policy, so the
figures show what verification changes.

Question file (JSON lines)::

    {"id": "q1", "question": "How many days ...?", "expected": ["three days"]}
    {"id": "q2", "question": "Can I bring my dog?", "unanswerable": true, "kind": "near_miss"}

Figures per model (``AnswerScore``): answered rate on answerable questions, correct-citation rate
(a citation whose quote contains an expected string; unverified answers have no quotes, so
their cited passage's text is used), refusal rate on unanswerable questions, and the share of
claims the verifier finds unsupported before verification and among those still shown after.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from engine.answer import Draft, QueryService
from engine.grounding import finish_answer
from engine.question import Question
from kb.errors import InvalidInput
from kb.models import Answer, KnowledgeBase

_SPACES = re.compile(r"\s+")
_MAX_CASES = 10_000


@dataclass(frozen=True)
class AnswerCase:
    """One question of an answer set."""

    id: str
    question: str
    expected: tuple[str, ...] = ()
    unanswerable: bool = False
    kind: str | None = None
    doc_ids: tuple[str, ...] = ()  # corpus ids holding the answer, where the set names them


@dataclass(frozen=True)
class CaseResult:
    """What one question got, unverified and verified."""

    id: str
    unanswerable: bool
    kind: str | None
    unverified: str
    verified: str
    answered_unverified: bool
    answered: bool
    cited_unverified: bool
    cited: bool
    claims: int
    unsupported: int
    unsupported_shown: int


@dataclass(frozen=True)
class AnswerScore:
    """The figures of one model on one answer set (rates from 0 to 1; None: no such case)."""

    model: str
    answerable: int
    unanswerable: int
    answered_rate: float | None
    correct_citation_rate: float | None
    refusal_rate: float | None
    answered_rate_unverified: float | None
    correct_citation_rate_unverified: float | None
    refusal_rate_unverified: float | None
    near_miss_refusal_rate: float | None
    near_miss_refusal_rate_unverified: float | None
    unsupported_before: float | None
    unsupported_after: float | None
    cases: list[CaseResult] = field(default_factory=list)


def load_cases(path: Path) -> list[AnswerCase]:
    """Read an answer set; a malformed line is refused with its line number."""
    if not path.is_file():
        raise InvalidInput(f"No question file at {path}.")
    cases: list[AnswerCase] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            case = _case(line, number)
            if case.id in seen:
                raise InvalidInput(f"{path}:{number}: duplicate id {case.id!r}.")
            seen.add(case.id)
            cases.append(case)
            if len(cases) > _MAX_CASES:
                raise InvalidInput(f"{path}: more than {_MAX_CASES} questions.")
    if not cases:
        raise InvalidInput(f"{path} holds no questions.")
    return cases


def _case(line: str, number: int) -> AnswerCase:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"line {number}: not JSON ({exc.msg}).") from exc
    if not isinstance(row, dict) or not isinstance(row.get("question"), str):
        raise InvalidInput(f"line {number}: an object with a 'question' string is needed.")
    expected = row.get("expected") or []
    if isinstance(expected, str):
        expected = [expected]
    if not isinstance(expected, list) or not all(isinstance(e, str) and e for e in expected):
        raise InvalidInput(f"line {number}: 'expected' must be a list of strings.")
    unanswerable = bool(row.get("unanswerable", False))
    if unanswerable == bool(expected):
        raise InvalidInput(f"line {number}: give 'expected' strings or 'unanswerable': true.")
    kind = row.get("kind")
    doc_ids = row.get("doc_ids") or []
    if not isinstance(doc_ids, list):
        raise InvalidInput(f"line {number}: 'doc_ids' must be a list.")
    return AnswerCase(
        id=str(row.get("id", number)),
        question=row["question"],
        expected=tuple(expected),
        unanswerable=unanswerable,
        kind=str(kind) if kind is not None else None,
        doc_ids=tuple(str(d) for d in doc_ids),
    )


def evaluate_answers(
    queries: QueryService,
    kb: KnowledgeBase,
    cases: Iterable[AnswerCase],
    model: str | None = None,
    top_k: int = 5,
    on_case: Callable[[], None] | None = None,
) -> AnswerScore:
    """Ask every question of ``kb`` with ``model`` and score the replies."""
    results = []
    for case in cases:
        question = Question(kb.id, case.question, model=model, top_k=top_k)
        results.append(score_case(case, queries.draft(question, kb)))
        if on_case:
            on_case()
    return summarise(model or kb.default_model or "default", results)


def score_case(case: AnswerCase, draft: Draft) -> CaseResult:
    """One question's draft checked unverified, flagged (to count claims) and dropped."""
    generation, passages = draft.generation, draft.passages
    plain = finish_answer(generation, passages, replace(draft.grounding, policy="off"))
    flagged = finish_answer(generation, passages, replace(draft.grounding, policy="flag"))
    dropped = finish_answer(generation, passages, replace(draft.grounding, policy="drop"))
    shown = [c for c in dropped.claims if c.supported] if dropped.grounded else []
    return CaseResult(
        id=case.id,
        unanswerable=case.unanswerable,
        kind=case.kind,
        unverified=plain.answer,
        verified=dropped.answer,
        answered_unverified=plain.grounded,
        answered=dropped.grounded,
        cited_unverified=_cites(plain, case.expected, quotes=False),
        cited=_cites(dropped, case.expected, quotes=True),
        claims=len(flagged.claims),
        unsupported=sum(not c.supported for c in flagged.claims),
        unsupported_shown=len(shown) - sum(c.supported for c in shown),
    )


def _cites(answer: Answer, expected: tuple[str, ...], quotes: bool) -> bool:
    if not answer.grounded or not expected:
        return False
    wanted = [_normal(e) for e in expected]
    for citation in answer.citations:
        text = citation.quote if quotes else citation.text
        if text and any(w in _normal(text) for w in wanted):
            return True
    return False


def _normal(text: str) -> str:
    return _SPACES.sub(" ", text).strip().casefold()


def summarise(model: str, results: list[CaseResult]) -> AnswerScore:
    """The rates over a model's case results."""
    answerable = [r for r in results if not r.unanswerable]
    unanswerable = [r for r in results if r.unanswerable]
    near = [r for r in unanswerable if r.kind == "near_miss"]
    claims = sum(r.claims for r in results)
    shown = sum(r.claims - r.unsupported for r in results if r.answered)
    return AnswerScore(
        model=model,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        answered_rate=_rate(answerable, lambda r: r.answered),
        correct_citation_rate=_rate(answerable, lambda r: r.cited),
        refusal_rate=_rate(unanswerable, lambda r: not r.answered),
        answered_rate_unverified=_rate(answerable, lambda r: r.answered_unverified),
        correct_citation_rate_unverified=_rate(answerable, lambda r: r.cited_unverified),
        refusal_rate_unverified=_rate(unanswerable, lambda r: not r.answered_unverified),
        near_miss_refusal_rate=_rate(near, lambda r: not r.answered),
        near_miss_refusal_rate_unverified=_rate(near, lambda r: not r.answered_unverified),
        unsupported_before=sum(r.unsupported for r in results) / claims if claims else None,
        unsupported_after=(sum(r.unsupported_shown for r in results) / shown if shown else None),
        cases=results,
    )


def _rate(results: list[CaseResult], hit: Callable[[CaseResult], bool]) -> float | None:
    return sum(map(hit, results)) / len(results) if results else None
