"""Fusion functions on hand-made rankings."""

from __future__ import annotations

import pytest

from engine.retrieval.fusion import FUSIONS, convex_distribution, convex_minmax, reciprocal_rank


def test_rrf_uses_ranks_only() -> None:
    fused = reciprocal_rank([[("a", 0.9), ("b", 0.1)], [("b", 30.0), ("c", 2.0)]], [1.0, 1.0])
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["a"] == pytest.approx(1 / 61)
    assert max(fused, key=fused.__getitem__) == "b"


def test_minmax_puts_each_list_on_zero_to_one() -> None:
    fused = convex_minmax([[("a", 0.8), ("b", 0.4)], [("b", 12.0), ("c", 4.0)]], [0.5, 0.5])
    assert fused == pytest.approx({"a": 0.5, "b": 0.5, "c": 0.0})


def test_distribution_is_robust_to_one_outlier() -> None:
    dense = [("a", 0.70), ("b", 0.69), ("c", 0.68), ("d", 0.10)]
    lexical = [("c", 9.0), ("a", 3.0)]
    fused = convex_distribution([dense, lexical], [0.5, 0.5])
    assert set(fused) == {"a", "b", "c", "d"}
    assert all(0.0 <= v <= 1.0 for v in fused.values())
    assert fused["c"] > fused["a"] > fused["b"] > fused["d"]


def test_empty_lists_and_registry() -> None:
    assert set(FUSIONS) == {"rrf", "minmax", "distribution"}
    for fuse in FUSIONS.values():
        assert fuse([[], [("x", 1.0)]], [0.5, 0.5]).keys() == {"x"}
