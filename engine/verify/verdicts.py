"""The verification seam: claims and passages in, one verdict per claim out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from engine.verify.claims import Claim

Reason = Literal["supported", "missing_fact", "contradicted", "unsupported"]


@dataclass(frozen=True)
class ClaimVerdict:
    """Whether a claim is supported, by which passage, and the exact quote that supports it.

    ``passage`` is the number of the best-matching passage as the answer's markers count them
    (from 1; None when there were no passages); ``start``/``end`` are offsets into that
    passage's text, so ``passages[passage - 1][start:end] == quote``. For a claim that is not
    supported they point at the closest evidence found. ``score`` is the verifier's score of
    that window (for the heuristic verifier, coverage and similarity combined; similarity is
    left at 0 where it could not change the verdict). ``supporting`` lists every passage that
    supports the claim; ``missing`` the claim's facts the evidence lacks.
    """

    claim: Claim
    supported: bool
    score: float
    reason: Reason
    passage: int | None
    start: int
    end: int
    quote: str
    supporting: tuple[int, ...] = ()
    missing: tuple[str, ...] = ()


class Verifier(Protocol):
    """Checks claims against the numbered passages the answer was written from."""

    def verify(self, claims: Sequence[Claim], passages: Sequence[str]) -> list[ClaimVerdict]:
        """One verdict per claim, in order; ``passages[i]`` is passage number ``i + 1``."""
        ...


def no_evidence(claim: Claim) -> ClaimVerdict:
    """The verdict for a claim when there is nothing to check it against."""
    return ClaimVerdict(claim, False, 0.0, "unsupported", None, 0, 0, "")
