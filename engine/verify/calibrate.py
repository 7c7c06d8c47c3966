"""Pick the heuristic verifier's thresholds on labelled claims and report how they hold up.

The labelled set (tests/engine/verify/data/claims.jsonl, built by build_claims.py there) is
split by passage, per source kind: 60% of each kind's passages to choose ``coverage_weight``
and ``support`` (best F1 of "supported", smoothed over nearby thresholds;
supported and paraphrased claims are the positives), 40% held out. Prints precision and recall
on both splits, then on the held-out split per source kind, per label and per kind of
contradiction.

Usage: .venv/bin/python -m engine.verify.calibrate [--data PATH] [--errors]
"""

from __future__ import annotations

import argparse
import json
import os
import zlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.verify.claims import Claim
from engine.verify.verifier import Evidence, HeuristicVerifier, Thresholds, decide

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "engine" / "verify" / "data" / "claims.jsonl"
POSITIVE = {"supported", "paraphrased"}
HELD_OUT_SHARE = 0.4
SMOOTHING = 0.03
WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True)
class Pair:
    """One labelled claim with its passage and the verifier's evidence for it."""

    row: dict[str, str]
    claim: Claim
    evidence: list[Evidence]

    @property
    def positive(self) -> bool:
        """Whether the claim is one the passage supports (supported or paraphrased)."""
        return self.row["label"] in POSITIVE


def load(path: Path) -> list[dict[str, str]]:
    """The labelled rows of a JSONL file."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def held_out(rows: list[dict[str, str]]) -> set[str]:
    """The passages (origins) held out: a stable 40% of each source kind's passages."""
    chosen: set[str] = set()
    by_source: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_source[row["source"]].add(row["origin"])
    for origins in by_source.values():
        ranked = sorted(origins, key=lambda o: zlib.crc32(o.encode()))
        chosen.update(ranked[: round(len(ranked) * HELD_OUT_SHARE)])
    return chosen


def gather(verifier: HeuristicVerifier, rows: list[dict[str, str]]) -> list[Pair]:
    """Evidence for every row, one verify call per passage (its claims together)."""
    by_passage: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_passage[row["passage"]].append(row)
    pairs = []
    for passage, group in by_passage.items():
        claims = [Claim(r["claim"], 0, len(r["claim"]), (1,)) for r in group]
        found = verifier.evidence(claims, [passage], exhaustive=True)
        pairs += [Pair(r, c, e) for r, c, e in zip(group, claims, found, strict=True)]
    return pairs


def counts(pairs: Iterable[Pair], thresholds: Thresholds) -> tuple[int, int, int, int]:
    """True positives, false positives, false negatives, true negatives."""
    tp = fp = fn = tn = 0
    for pair in pairs:
        accepted = decide(pair.claim, pair.evidence, thresholds).supported
        tp += accepted and pair.positive
        fp += accepted and not pair.positive
        fn += not accepted and pair.positive
        tn += not accepted and not pair.positive
    return tp, fp, fn, tn


def figures(pairs: list[Pair], thresholds: Thresholds) -> tuple[float, float, float]:
    """Precision, recall and F1 of "supported"."""
    tp, fp, fn, _ = counts(pairs, thresholds)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def search(pairs: list[Pair], base: Thresholds) -> Thresholds:
    """The weight and threshold whose F1 on ``pairs``, averaged with its neighbours' (the
    threshold +/- SMOOTHING), is best: the middle of a plateau rather than its edge, where a
    few pairs more or less would tip the choice. The weight stays within WEIGHTS so that
    neither words nor embeddings decide alone."""
    grid = [t / 100 for t in range(30, 96)]
    best_key: tuple[float, float] = (-1.0, -1.0)
    chosen = base
    for w in WEIGHTS:
        f1 = {t: figures(pairs, replace(base, coverage_weight=w, support=t))[2] for t in grid}
        for t in grid:
            near = [f1[u] for u in grid if abs(u - t) <= SMOOTHING + 1e-9]
            key = (round(sum(near) / len(near), 4), -abs(w - 0.5))
            if key > best_key:
                best_key, chosen = key, replace(base, coverage_weight=w, support=t)
    return chosen


def report(title: str, pairs: list[Pair], thresholds: Thresholds) -> None:
    """One line of figures for ``pairs``."""
    precision, recall, f1 = figures(pairs, thresholds)
    print(f"  {title:<28} n={len(pairs):>3}  P={precision:.3f}  R={recall:.3f}  F1={f1:.3f}")


def acceptance(title: str, groups: dict[str, list[Pair]], thresholds: Thresholds) -> None:
    """Per group: the share of claims accepted as supported."""
    print(title)
    for name, group in sorted(groups.items()):
        accepted = sum(decide(p.claim, p.evidence, thresholds).supported for p in group)
        print(f"  {name:<28} accepted {accepted:>3}/{len(group):<3} ({accepted / len(group):.0%})")


def main() -> None:
    """Calibrate, then print the figures to put next to the defaults."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true", help="list held-out mistakes")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2", REPO / "data" / "models")
    rows = load(args.data)
    pairs = gather(HeuristicVerifier(embedder), rows)
    held = held_out(rows)
    calibration = [p for p in pairs if p.row["origin"] not in held]
    test = [p for p in pairs if p.row["origin"] in held]
    chosen = search(calibration, Thresholds())
    print(
        f"{len(pairs)} pairs ({len(calibration)} calibration, {len(test)} held out); chosen: "
        f"coverage_weight={chosen.coverage_weight} support={chosen.support}"
    )
    report("calibration split", calibration, chosen)
    report("held-out split", test, chosen)
    report("all pairs, defaults now", pairs, Thresholds())
    print("held out, per source kind")
    for source in sorted({p.row["source"] for p in test}):
        report(source, [p for p in test if p.row["source"] == source], chosen)
    groups: dict[str, list[Pair]] = defaultdict(list)
    kinds: dict[str, list[Pair]] = defaultdict(list)
    for pair in test:
        groups[pair.row["label"]].append(pair)
        if pair.row["kind"]:
            kinds[pair.row["kind"]].append(pair)
    acceptance("held out, per label", groups, chosen)
    acceptance("held out, refused kinds (lower is better)", kinds, chosen)
    every: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        if pair.row["kind"]:
            every[pair.row["kind"]].append(pair)
    acceptance("all pairs (calibration included), refused kinds", every, chosen)
    if args.errors:
        for pair in test:
            verdict = decide(pair.claim, pair.evidence, chosen)
            if verdict.supported != pair.positive:
                print(
                    f"  [{pair.row['label']}/{pair.row['kind'] or '-'}] {verdict.reason} "
                    f"{verdict.score:.2f} {pair.row['claim']!r} || {verdict.quote[:90]!r}"
                )


if __name__ == "__main__":
    main()
