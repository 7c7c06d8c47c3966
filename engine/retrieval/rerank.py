"""Reranking: a sentence-transformers CrossEncoder rescoring the fused passages."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from kb.errors import ModelUnavailable
from kb.models import Passage


class CrossEncoderReranker:
    """Scores (query, passage) pairs jointly; slower than the bi-encoder, finer in order."""

    def __init__(self, model_path: Path, depth: int = 20) -> None:
        self._path = model_path
        self._depth = depth
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                if not self._path.is_dir():
                    raise ModelUnavailable(f"No reranker model directory at {self._path}.")
                from sentence_transformers import CrossEncoder

                self._model = CrossEncoder(str(self._path), device="cpu", local_files_only=True)
            return self._model

    def rerank(self, query: str, passages: list[Passage]) -> list[Passage]:
        """The first ``depth`` passages reordered by cross-encoder score; the rest follow."""
        head, tail = passages[: self._depth], passages[self._depth :]
        scores = self._load().predict([(query, p.chunk.text) for p in head])
        rescored = [
            Passage(p.chunk, float(score), p.similarity)
            for p, score in zip(head, scores, strict=True)
        ]
        rescored.sort(key=lambda p: -p.score)
        return rescored + tail
