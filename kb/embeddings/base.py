"""The embedding seam: texts in, unit vectors out; and the helpers every backend shares."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

# Token ids of a text under the embedder's tokenizer, without special tokens.
TokenIds = Sequence[int]


class Embedder(Protocol):
    """Turns texts into unit-length vectors; questions and passages share one space."""

    name: str

    def embed(
        self, texts: Sequence[str], token_ids: Sequence[TokenIds | None] | None = None
    ) -> list[list[float]]:
        """One normalised vector per text, in order. ``token_ids``, where given, are each
        text's ids from this embedder's ``word_tokens`` (None where not known): an embedder
        may use them instead of tokenising the text again."""


@dataclass(frozen=True)
class WordTokens:
    """A text's token ids (no special tokens) and each token's character span in the text."""

    ids: list[int]
    offsets: list[tuple[int, int]]


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
