"""A Verifier backed by a local NLI cross-encoder (sentence-transformers ``CrossEncoder``):
each claim is scored against its candidate windows, the entailment probability is the score.

Candidate windows and the hard-fact check are the heuristic verifier's (words and facts find
the few windows worth scoring, and a number the window lacks is not entailed whatever the
model says). No NLI model ships with the engine: point ``path`` at a downloaded one, e.g. a
directory holding cross-encoder/nli-deberta-v3-small.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from engine.verify.candidates import Candidate, candidates
from engine.verify.claims import Claim
from engine.verify.support import ClaimView, analyse_passage
from engine.verify.verdicts import ClaimVerdict, Reason, no_evidence
from kb.errors import ModelUnavailable

# The label order of the cross-encoder/nli-* models, used when the model's config names none.
DEFAULT_LABELS = ("contradiction", "entailment", "neutral")


class CrossEncoderVerifier:
    """Supported = the claim's facts in the window and P(entailment) >= ``threshold``.

    ``labels`` names the model's outputs in order (default: the model config's ``id2label``,
    else ``DEFAULT_LABELS``); one of them must be "entailment". ``candidates`` windows per
    claim are scored, in one ``predict`` call per verification.
    """

    def __init__(
        self,
        path: str | Path,
        labels: Sequence[str] | None = None,
        threshold: float = 0.5,
        candidates: int = 3,
        device: str = "cpu",
    ) -> None:
        if labels is not None and "entailment" not in [label.lower() for label in labels]:
            raise ValueError(f"labels must name an 'entailment' output, got {list(labels)}")
        self._model = _load(Path(path).expanduser(), device)
        self.labels = tuple(label.lower() for label in labels or _config_labels(self._model))
        if "entailment" not in self.labels:
            raise ModelUnavailable(
                f"The cross-encoder at {str(path)!r} has no 'entailment' label "
                f"(labels {list(self.labels)}); pass labels= in the model's output order."
            )
        self.threshold = threshold
        self.candidates = candidates

    def verify(self, claims: Sequence[Claim], passages: Sequence[str]) -> list[ClaimVerdict]:
        """One verdict per claim; ``passages[i]`` is the passage cited as ``[i + 1]``."""
        views = [analyse_passage(n, text) for n, text in enumerate(passages, start=1)]
        readers = [ClaimView(c) for c in claims]
        shortlist = [candidates(r, views, self.candidates) for r in readers]
        pairs = [
            (c.window.quote, r.claim.text)
            for r, found in zip(readers, shortlist, strict=True)
            for c in found
        ]
        probabilities = self._predict(pairs)
        verdicts, row = [], 0
        for reader, found in zip(readers, shortlist, strict=True):
            verdicts.append(
                self._verdict(reader.claim, found, probabilities[row : row + len(found)])
            )
            row += len(found)
        return verdicts

    def _predict(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        if not pairs:
            return np.zeros((0, len(self.labels)))
        scores = self._model.predict(pairs, apply_softmax=True, convert_to_numpy=True)
        probs = np.asarray(scores, dtype=np.float64).reshape(len(pairs), -1)
        return probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)

    def _verdict(self, claim: Claim, found: list[Candidate], probs: np.ndarray) -> ClaimVerdict:
        if not found:
            return no_evidence(claim)
        entail = probs[:, self.labels.index("entailment")]
        contra = (
            probs[:, self.labels.index("contradiction")]
            if "contradiction" in self.labels
            else np.zeros(len(found))
        )
        passing = [
            i
            for i, c in enumerate(found)
            if not c.missing and entail[i] >= self.threshold and entail[i] > contra[i]
        ]
        numbers = tuple(sorted({found[i].window.passage.number for i in passing}))
        if passing:
            cited = [i for i in passing if found[i].window.passage.number in claim.cited]
            best = max(cited or passing, key=lambda i: entail[i])
            return _make(claim, found[best], float(entail[best]), True, "supported", numbers)
        best = int(np.argmax(entail))
        reason: Reason = "unsupported"
        if float(contra.max()) >= self.threshold:
            best, reason = int(np.argmax(contra)), "contradicted"
        elif found[best].missing and entail[best] >= self.threshold:
            reason = "missing_fact"
        return _make(claim, found[best], float(entail[best]), False, reason, numbers)


def _load(path: Path, device: str) -> Any:
    if not path.is_dir():
        raise ModelUnavailable(f"No cross-encoder model directory at {str(path)!r}.")
    if not (path / "config.json").is_file():
        raise ModelUnavailable(
            f"{str(path)!r} is not a cross-encoder model directory (no config.json)."
        )
    try:
        from sentence_transformers import CrossEncoder

        return CrossEncoder(str(path), device=device, local_files_only=True)
    except Exception as exc:
        raise ModelUnavailable(f"Cannot load the cross-encoder at {str(path)!r}: {exc}") from exc


def _config_labels(model: Any) -> tuple[str, ...]:
    config = getattr(model, "config", None) or getattr(
        getattr(model, "model", None), "config", None
    )
    id2label = getattr(config, "id2label", None) or {}
    names = [str(id2label[i]) for i in sorted(id2label)]
    if names and not all(name.upper().startswith("LABEL_") for name in names):
        return tuple(names)
    return DEFAULT_LABELS


def _make(
    claim: Claim,
    candidate: Candidate,
    score: float,
    supported: bool,
    reason: Reason,
    numbers: tuple[int, ...],
) -> ClaimVerdict:
    window = candidate.window
    return ClaimVerdict(
        claim, supported, round(score, 4), reason, window.passage.number, window.start,
        window.end, window.quote, numbers, candidate.missing,
    )  # fmt: skip
