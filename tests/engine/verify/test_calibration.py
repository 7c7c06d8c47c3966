"""The labelled set the thresholds were calibrated on, and the defaults still holding up on its
held-out split (figures in engine/verify/verifier.py, from `python -m engine.verify.calibrate`)."""

from __future__ import annotations

from collections import Counter

from engine.verify import HeuristicVerifier, Thresholds
from engine.verify.calibrate import DATA, figures, gather, held_out, load

LABELS = {"supported", "paraphrased", "contradicted", "unrelated"}
SOURCES = {"msmarco", "debian-doc", "french-doc", "handbook"}


def test_the_labelled_set_covers_every_label_for_every_kind_of_text() -> None:
    rows = load(DATA)
    assert len(rows) >= 200
    assert {r["source"] for r in rows} == SOURCES
    for source in SOURCES:
        mine = [r for r in rows if r["source"] == source]
        assert {r["label"] for r in mine} == LABELS, source
        assert len(mine) >= 40, source
    assert Counter(r["lang"] for r in rows)["fr"] >= 80
    assert len({(r["passage"], r["claim"]) for r in rows}) == len(rows)
    contradictions = Counter(r["kind"] for r in rows if r["label"] == "contradicted")
    assert {"number", "negation", "antonym", "name", "date", "swap"} <= set(contradictions)


def test_the_held_out_split_has_passages_of_every_kind() -> None:
    rows = load(DATA)
    held = held_out(rows)
    assert {r["source"] for r in rows if r["origin"] in held} == SOURCES
    assert 0.3 < sum(r["origin"] in held for r in rows) / len(rows) < 0.5


def test_the_default_thresholds_hold_on_the_held_out_split(verifier: HeuristicVerifier) -> None:
    rows = load(DATA)
    held = held_out(rows)
    test = [p for p in gather(verifier, rows) if p.row["origin"] in held]
    precision, recall, _ = figures(test, Thresholds())
    assert precision >= 0.8 and recall >= 0.9, (precision, recall)
