"""The heuristic verifier over the real bundled embedder, and the handbook as passages."""

from __future__ import annotations

import pytest

from engine.verify import HeuristicVerifier
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import REPO


@pytest.fixture(scope="session")
def verifier(embedder: SentenceTransformerEmbedder) -> HeuristicVerifier:
    """The default verifier with the calibrated thresholds."""
    return HeuristicVerifier(embedder)


@pytest.fixture(scope="session")
def handbook_sections() -> list[str]:
    """data/samples/handbook.md cut at its headings: four passages, numbered 1 to 4."""
    text = (REPO / "data" / "samples" / "handbook.md").read_text(encoding="utf-8")
    return ["# " + block.strip() for block in text.split("\n# ")[1:]]
