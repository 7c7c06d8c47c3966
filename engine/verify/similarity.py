"""Embedding similarity of claims with passage windows, every text embedded in one call."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.verify.support import Window
from kb.embeddings.base import Embedder


def similarities(
    embedder: Embedder, requests: Sequence[tuple[str, Sequence[Window]]]
) -> list[list[float]]:
    """For each (claim text, windows) request, the claim's cosine with each window.

    One ``embed`` call holds the claims that have windows and each needed passage sentence
    once; a window's vector is the length-weighted mean of its sentences' vectors (the
    embedder mean-pools tokens, so this is close to embedding the window whole, and a
    sentence shared by several windows or claims is embedded once).
    """
    texts: list[str] = []
    claim_rows: list[int] = []
    sentence_rows: dict[tuple[int, int], int] = {}
    for claim, windows in requests:
        claim_rows.append(len(texts) if windows else -1)
        if windows:
            texts.append(claim)
        for window in windows:
            for index in range(window.first, window.last + 1):
                key = (window.passage.number, index)
                if key not in sentence_rows:
                    sentence_rows[key] = len(texts)
                    texts.append(window.passage.sentences[index].text)
    if not texts:
        return [[] for _ in requests]
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    result = []
    for row, (_, windows) in zip(claim_rows, requests, strict=True):
        result.append([_cosine(vectors, row, window, sentence_rows) for window in windows])
    return result


def _cosine(
    vectors: np.ndarray, row: int, window: Window, rows: dict[tuple[int, int], int]
) -> float:
    picked = [rows[(window.passage.number, k)] for k in range(window.first, window.last + 1)]
    weights = np.array([s.length for s in window.sentences], dtype=np.float32)
    mean = (vectors[picked] * weights[:, None]).sum(axis=0)
    norm = float(np.linalg.norm(mean)) or 1.0
    return float(vectors[row] @ mean) / norm
