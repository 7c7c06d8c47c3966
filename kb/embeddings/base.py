"""The embedding seam: texts in, unit vectors out; and the helpers every backend shares."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

# Token ids of a text under the embedder's tokenizer, without special tokens.
TokenIds = Sequence[int]
# What a text is to an asymmetric model (E5 prefixes "query: " or "passage: "); others ignore it.
TextKind = Literal["passage", "query"]


class Embedder(Protocol):
    """Turns texts into unit-length vectors; questions and passages share one space."""

    name: str

    @property
    def fingerprint(self) -> str:
        """Model name and a short hash of its weights (``fingerprint_of``): what an index
        records of the model that filled it, so vectors of other weights are never mixed in."""

    def embed(
        self,
        texts: Sequence[str],
        token_ids: Sequence[TokenIds | None] | None = None,
        *,
        kind: TextKind = "passage",
    ) -> list[list[float]]:
        """One normalised vector per text, in order. ``token_ids``, where given, are each
        text's ids from this embedder's ``word_tokens`` (None where not known): an embedder
        may use them instead of tokenising the text again. ``kind`` says whether the texts
        are questions or passages (asymmetric models embed them differently)."""


class TokenizingEmbedder(Embedder, Protocol):
    """An embedder that also sizes chunks in its own tokens (what ingestion needs)."""

    def count_tokens(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens)."""

    def word_tokens(self, text: str) -> WordTokens | None:
        """Ids and spans of ``text`` when the tokenizer cuts words first (else None)."""

    @property
    def max_seq_length(self) -> int:
        """Longest input in tokens, special tokens and any prefix included."""


@dataclass(frozen=True)
class WordTokens:
    """A text's token ids (no special tokens) and each token's character span in the text."""

    ids: list[int]
    offsets: list[tuple[int, int]]


def fingerprint_of(model: str, weights_sha256: str) -> str:
    """The short identity of a model: its name and the first 12 hex digits of its weights'
    sha256 (``multilingual-e5-small:1571fc982750``)."""
    return f"{model.removeprefix('bundled:')}:{weights_sha256[:12]}"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
