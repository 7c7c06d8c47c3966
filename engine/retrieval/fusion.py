"""Rank fusion: combine ranked lists from several retrievers into one ranking.

Each list is ``[(id, score), ...]`` best first, scores on the retriever's own scale. Fusion
methods by name (a name -> function dict, so ``kb eval`` can compare them side by side).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence

Ranked = Sequence[tuple[str, float]]
Fusion = Callable[[Sequence[Ranked], Sequence[float]], dict[str, float]]


def reciprocal_rank(
    lists: Sequence[Ranked], weights: Sequence[float], k: int = 60
) -> dict[str, float]:
    """Weighted RRF (Cormack et al. 2009): only ranks count, scores are ignored."""
    fused: dict[str, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        for rank, (item, _score) in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def _minmax(ranked: Ranked) -> dict[str, float]:
    scores = [s for _, s in ranked]
    low, high = min(scores), max(scores)
    span = high - low
    return {item: (s - low) / span if span > 0 else 1.0 for item, s in ranked}


def _distribution(ranked: Ranked) -> dict[str, float]:
    """Scores mapped to [0, 1] across mean ± 3 standard deviations of the list (Qdrant's
    distribution-based score fusion): robust to one outlier, unlike min-max."""
    scores = [s for _, s in ranked]
    mean = statistics.fmean(scores)
    spread = statistics.pstdev(scores) if len(scores) > 1 else 0.0
    if spread == 0:
        return dict.fromkeys((item for item, _ in ranked), 1.0)
    low, high = mean - 3 * spread, mean + 3 * spread
    return {item: min(max((s - low) / (high - low), 0.0), 1.0) for item, s in ranked}


def _combine(
    lists: Sequence[Ranked],
    weights: Sequence[float],
    normalise: Callable[[Ranked], dict[str, float]],
) -> dict[str, float]:
    fused: dict[str, float] = {}
    for ranked, weight in zip(lists, weights, strict=True):
        if not ranked:
            continue
        for item, score in normalise(ranked).items():
            fused[item] = fused.get(item, 0.0) + weight * score
    return fused


def convex_minmax(lists: Sequence[Ranked], weights: Sequence[float]) -> dict[str, float]:
    """Convex combination of min-max normalised scores (Bruch et al. 2023)."""
    return _combine(lists, weights, _minmax)


def convex_distribution(lists: Sequence[Ranked], weights: Sequence[float]) -> dict[str, float]:
    """Convex combination of distribution-normalised scores."""
    return _combine(lists, weights, _distribution)


FUSIONS: dict[str, Fusion] = {
    "rrf": reciprocal_rank,
    "minmax": convex_minmax,
    "distribution": convex_distribution,
}
