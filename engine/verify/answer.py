"""Verify a whole answer: split it into claims, check them, and give back the answer text with
unsupported claims dropped (or kept, flagged in the verdicts) and each supported claim's
citation markers pointing at passages that support it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from engine.verify.claims import Claim, split_claims
from engine.verify.sentences import Span
from engine.verify.verdicts import ClaimVerdict, Verifier

Policy = Literal["drop", "flag"]
_BULLET_PREFIX = re.compile(r"[ \t]*(?:[-*+•–]|\d{1,3}[.)])?[ \t]*")
_SPACES = re.compile(r"[ \t]{2,}")
_SPACE_BEFORE = re.compile(r"[ \t]+(?=[.,](?:\s|$))")


@dataclass(frozen=True)
class Verification:
    """The verdict on every claim of an answer, and the answer as it should be shown.

    ``text`` is the answer with markers corrected; under the "drop" policy unsupported claims
    are also removed from it ("" when nothing is left), under "flag" they stay.
    """

    answer: str
    text: str
    verdicts: tuple[ClaimVerdict, ...]
    policy: Policy

    @property
    def supported(self) -> bool:
        """Whether every claim is supported (an answer without claims counts as supported)."""
        return all(v.supported for v in self.verdicts)

    @property
    def unsupported(self) -> tuple[ClaimVerdict, ...]:
        """The verdicts of the claims that are not supported."""
        return tuple(v for v in self.verdicts if not v.supported)


def verify_answer(
    answer: str, passages: Sequence[str], verifier: Verifier, policy: Policy = "drop"
) -> Verification:
    """Split ``answer`` into claims, verify them against ``passages`` (numbered from 1 as the
    answer's markers count them) and rewrite the answer under ``policy``."""
    claims = split_claims(answer)
    verdicts = tuple(verifier.verify(claims, passages)) if claims else ()
    return Verification(answer, rewrite(answer, verdicts, policy), verdicts, policy)


def corrected_citations(verdict: ClaimVerdict) -> tuple[int, ...]:
    """The passages a claim should cite: those it cites that support it, else the best
    supporting passage; an unsupported claim keeps what it cites."""
    claim = verdict.claim
    if not verdict.supported or verdict.passage is None:
        return claim.cited
    kept = tuple(n for n in claim.cited if n in verdict.supporting)
    return kept or (verdict.passage,)


def rewrite(answer: str, verdicts: Sequence[ClaimVerdict], policy: Policy) -> str:
    """``answer`` with markers corrected and, under "drop", unsupported claims removed."""
    edits: list[tuple[int, int, str]] = []
    for group in _by_sentence(verdicts):
        keep = [v.supported or policy == "flag" for v in group]
        if not any(keep):
            edits.append(_sentence_deletion(answer, group[0].claim.sentence))
            continue
        claims = [v.claim for v in group]
        for index, kept in enumerate(keep):
            if not kept:
                edits.extend(_clause_deletion(answer, claims, index))
        edits.extend(_marker_edits(group, keep))
    return _tidy(_apply(answer, edits))


def _by_sentence(verdicts: Sequence[ClaimVerdict]) -> list[list[ClaimVerdict]]:
    groups: dict[Span, list[ClaimVerdict]] = {}
    for verdict in verdicts:
        groups.setdefault(verdict.claim.sentence, []).append(verdict)
    return list(groups.values())


def _sentence_deletion(answer: str, sentence: Span) -> tuple[int, int, str]:
    """Delete a sentence; its whole line when it is alone on it (a list item, say)."""
    start, end = sentence
    line_start = answer.rfind("\n", 0, start) + 1
    line_end = answer.find("\n", end)
    line_end = len(answer) if line_end < 0 else line_end
    if _BULLET_PREFIX.fullmatch(answer, line_start, start) and not answer[end:line_end].strip():
        return line_start, min(line_end + 1, len(answer)), ""
    while end < len(answer) and answer[end] in " \t":
        end += 1
    return start, end, ""


def _clause_deletion(answer: str, claims: list[Claim], index: int) -> list[tuple[int, int, str]]:
    """Delete one clause of a sentence that keeps others, with its connector and markers."""
    claim = claims[index]
    if index + 1 < len(claims):  # up to the next clause, which then starts the sentence
        following = claims[index + 1].start
        edits = [(claim.start, following, "")]
        if index == 0 and following < len(answer):
            edits.append((following, following + 1, answer[following].upper()))
        return edits
    previous = claims[index - 1]
    tail = max([previous.end, *(end for _, end in previous.markers)])
    return [(tail, claim.end, ""), *((s, e, "") for s, e in claim.markers)]


def _marker_edits(group: list[ClaimVerdict], keep: list[bool]) -> list[tuple[int, int, str]]:
    """Markers of kept claims replaced where the passages they should cite differ."""
    edits: list[tuple[int, int, str]] = []
    claims = [v.claim for v in group]
    for index, verdict in enumerate(group):
        claim = verdict.claim
        wanted = corrected_citations(verdict)
        if not keep[index] or not wanted:
            continue
        rendered = "".join(f"[{n}]" for n in wanted)
        if claim.markers:
            if wanted != claim.cited:
                first, *rest = claim.markers
                edits.append((first[0], first[1], " " + rendered))
                edits.extend((s, e, "") for s, e in rest)
            continue
        owner = _owner(claims, index)
        unchanged_owner = (
            owner is not None
            and keep[owner]
            and corrected_citations(group[owner]) == claims[owner].cited
        )
        if wanted != claim.cited or not unchanged_owner:
            edits.append((claim.end, claim.end, " " + rendered))
    return edits


def _owner(claims: list[Claim], index: int) -> int | None:
    """The clause whose markers a marker-less clause takes: the next one that has any, else
    the previous one."""
    after = [i for i in range(index + 1, len(claims)) if claims[i].markers]
    before = [i for i in range(index) if claims[i].markers]
    if after:
        return after[0]
    return before[-1] if before else None


def _apply(text: str, edits: list[tuple[int, int, str]]) -> str:
    """Apply edits from the end; an edit inside a deleted range is dropped with it."""
    deletions = sorted((s, e) for s, e, r in edits if not r and e > s)
    merged: list[list[int]] = []
    for start, end in deletions:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    kept = [(s, e, r) for s, e, r in edits if r and not any(_inside(s, e, a, b) for a, b in merged)]
    final = [(a, b, "") for a, b in merged] + kept
    final.sort(key=lambda edit: (edit[0], edit[1]), reverse=True)
    for start, end, replacement in final:
        text = text[:start] + replacement + text[end:]
    return text


def _inside(start: int, end: int, low: int, high: int) -> bool:
    """Whether an edit lies within a deleted range (an insertion at its edge does not)."""
    if start == end and start in (low, high):
        return False
    return low <= start and end <= high


def _tidy(text: str) -> str:
    text = _SPACE_BEFORE.sub("", _SPACES.sub(" ", text))
    return "\n".join(line.rstrip() for line in text.strip().splitlines())
