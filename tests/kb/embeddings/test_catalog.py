"""The model catalog: names to embedders and per-model defaults; ``kind`` and fingerprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.embeddings.catalog import (
    DEFAULT_MODEL,
    E5_SMALL,
    EMBEDDERS,
    MINILM,
    EmbedderOptions,
    load_embedder,
    spec_for,
)
from kb.embeddings.e5 import E5Embedder
from kb.embeddings.sentence_transformer import (
    MINILM_SAFETENSORS_SHA256,
    SentenceTransformerEmbedder,
)
from kb.errors import ModelUnavailable
from tests.conftest import MODEL_CACHE, make_settings


def test_bundled_models_are_listed_with_their_defaults() -> None:
    assert set(EMBEDDERS) == {MINILM, E5_SMALL}
    assert DEFAULT_MODEL in EMBEDDERS
    minilm, e5 = spec_for(MINILM), spec_for(E5_SMALL)
    assert minilm.relevance_floor == 0.3
    assert e5.relevance_floor > 0.7  # E5 cosines sit far higher than MiniLM's
    assert e5.max_tokens == 512 and minilm.max_tokens == 256
    assert e5.serves("fr") and e5.serves("en-GB") and e5.serves("DE")
    assert minilm.serves("en") and not minilm.serves("fr")
    assert minilm.fingerprint == f"all-MiniLM-L6-v2:{MINILM_SAFETENSORS_SHA256[:12]}"
    assert e5.fingerprint is not None and e5.fingerprint.startswith("multilingual-e5-small:")


def test_load_embedder_picks_the_adapter_by_name(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    options = EmbedderOptions.from_settings(settings)
    assert options.cache_dir == MODEL_CACHE
    e5 = load_embedder(E5_SMALL, options)
    assert isinstance(e5, E5Embedder) and e5.route == "onnx-int8"
    assert e5.fingerprint == spec_for(E5_SMALL).fingerprint
    engine = load_embedder(E5_SMALL, EmbedderOptions(MODEL_CACHE, backend="torch"))
    assert isinstance(engine, E5Embedder) and engine.route == "engine"
    minilm = load_embedder(MINILM, options)
    assert isinstance(minilm, SentenceTransformerEmbedder)
    assert minilm.fingerprint == spec_for(MINILM).fingerprint


def test_other_names_load_through_sentence_transformers(tmp_path: Path) -> None:
    """A local directory or hub name keeps MiniLM's defaults; an unknown bundled name fails
    clearly when used."""
    spec = spec_for(str(tmp_path))
    assert spec.relevance_floor == 0.3 and spec.fingerprint is None
    with pytest.raises(ModelUnavailable):
        load_embedder("bundled:gpt-5", EmbedderOptions(tmp_path)).embed(["x"])


def test_minilm_ignores_kind(embedder: SentenceTransformerEmbedder) -> None:
    """MiniLM is symmetric: a question embeds the same as a passage."""
    text = "How do I reset my password?"
    assert embedder.embed([text], kind="query") == embedder.embed([text], kind="passage")
