"""The few windows worth a closer look for a claim, found by words and facts alone (cheap), so
the embedding model or cross-encoder only sees those."""

from __future__ import annotations

from dataclasses import dataclass

from engine.verify.support import (
    ClaimView,
    PassageView,
    Window,
    contributes,
    coverage,
    missing_facts,
    windows,
)

# Below this lexical rank the claim shares little wording with every window (a paraphrase, or
# unrelated): look at more windows so the embedding gets a say.
WEAK_RANK = 0.35
WEAK_EXTRA = 5
PREFILTER = 12
CITED_PREFILTER = 3


@dataclass(frozen=True)
class Candidate:
    """A window with its lexical evidence for one claim."""

    window: Window
    coverage: float
    missing: tuple[str, ...]

    @property
    def rank(self) -> float:
        """Coverage, plus a half when every fact of the claim is in the window."""
        return self.coverage + (0.0 if self.missing else 0.5)


def candidates(claim: ClaimView, passages: list[PassageView], limit: int) -> list[Candidate]:
    """The ``limit`` best windows by coverage and facts, plus the best window of each passage
    the claim cites (more when every window is a weak match), best first.

    Facts are only checked in the PREFILTER windows that share most words with the claim
    (and the best few of each cited passage): a window sharing few words will not support
    the claim whatever facts it holds, and fact extraction is the costly part."""
    covered = [
        (coverage(claim, w), w)
        for passage in passages
        for w in windows(passage)
        if contributes(claim, w)
    ]
    covered.sort(key=lambda cw: (-cw[0], cw[1].size, cw[1].passage.number, cw[1].first))
    shortlist = covered[:PREFILTER]
    for number in claim.claim.cited:
        own = [cw for cw in covered if cw[1].passage.number == number][:CITED_PREFILTER]
        shortlist += [cw for cw in own if cw not in shortlist]
    scored = [
        Candidate(w, share, tuple(f.text for f in missing_facts(claim, w)))
        for share, w in shortlist
    ]
    scored.sort(key=lambda c: (-c.rank, c.window.size, c.window.passage.number, c.window.first))
    if scored and scored[0].rank < WEAK_RANK:
        limit += WEAK_EXTRA
    chosen = scored[:limit]
    for number in claim.claim.cited:
        best = next((c for c in scored if c.window.passage.number == number), None)
        if best is not None and best not in chosen:
            chosen.append(best)
    return chosen
