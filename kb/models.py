"""Domain models shared by every package (plain dataclasses, no HTTP or storage concerns)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Bidirectional formatting characters reorder what follows them on screen (an override can make
# "report\u202efdp.exe" show as "reportexe.pdf"); NUL and other controls break terminals, logs
# and the surfaces that quote a title or source name. Tab, newline and the like become a space.
_LABEL_TABLE = {
    **{code: " " for code in (*range(0x20), *range(0x7F, 0xA0))},
    0x00: None,
    **dict.fromkeys((0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)), None),
}
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_label(text: str) -> str:
    """``text`` fit to show as a title or source name: without NUL, bidirectional formatting
    characters or lone surrogates, other control characters turned into spaces, trimmed."""
    return _LONE_SURROGATE.sub("", text.translate(_LABEL_TABLE)).strip()


def _clean_labels(instance: object, *names: str) -> None:
    # Frozen dataclasses: set through object, as dataclasses itself does in __init__.
    for name in names:
        value = getattr(instance, name)
        if isinstance(value, str):
            object.__setattr__(instance, name, clean_label(value))


@dataclass(frozen=True)
class KnowledgeBase:
    """An isolated collection of documents that questions are asked against.

    ``document_count`` and ``chunk_count`` are None when it was read without counting its
    documents (``Registry.get_kb(..., counts=False)``, what answering a question needs)."""

    id: str
    name: str
    description: str
    created_at: datetime
    updated_at: datetime
    document_count: int | None = None
    chunk_count: int | None = None
    default_model: str | None = None
    # What happens to unsupported claims in answers (None: the server's setting).
    verification: str | None = None


def content_version(content_hash: str) -> str:
    """The version a content hash names: its first 16 hex digits, as chunk ids carry it."""
    return content_hash[:16]


@dataclass(frozen=True)
class Document:
    """One ingested source (a file, a page, a text) and the state of its current version."""

    id: str
    kb_id: str
    title: str
    source: str
    media_type: str
    content_hash: str
    size_bytes: int
    chunk_count: int
    status: str
    created_at: datetime
    updated_at: datetime
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _clean_labels(self, "title", "source")

    @property
    def version(self) -> str:
        """The live version's name, as its chunks carry it (``chunk_id``)."""
        return content_version(self.content_hash)


def chunk_id(document_id: str, version: str, index: int) -> str:
    """The id of a document version's ``index``-th chunk: ``document:version:index``."""
    return f"{document_id}:{version}:{index}"


def chunk_id_parts(chunk_id: str) -> tuple[str, str] | None:
    """The document id and version a chunk id names; None if it is not of ``chunk_id``'s form."""
    parts = chunk_id.rsplit(":", 2)
    if len(parts) != 3 or not all(parts) or not parts[2].isdigit():
        return None
    return parts[0], parts[1]


@dataclass(frozen=True)
class Chunk:
    """A passage of a document, the unit that is embedded, retrieved and cited."""

    id: str
    kb_id: str
    document_id: str
    version: str
    index: int
    text: str
    title: str
    source: str
    media_type: str
    start_char: int
    end_char: int
    page: int | None = None
    page_end: int | None = None
    section: str | None = None

    def __post_init__(self) -> None:
        _clean_labels(self, "title", "source", "section")

    def metadata(self) -> dict[str, Any]:
        """Flat metadata as stored next to the vector (None values left out)."""
        meta: dict[str, Any] = {
            "kb_id": self.kb_id,
            "document_id": self.document_id,
            "version": self.version,
            "index": self.index,
            "title": self.title,
            "source": self.source,
            "media_type": self.media_type,
            "start_char": self.start_char,
            "end_char": self.end_char,
        }
        if self.page is not None:
            meta["page"] = self.page
            meta["page_end"] = self.page_end if self.page_end is not None else self.page
        if self.section:
            meta["section"] = self.section
        return meta

    @classmethod
    def from_stored(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        """Rebuild a chunk from what the vector store returns."""
        return cls(
            id=chunk_id,
            kb_id=str(meta["kb_id"]),
            document_id=str(meta["document_id"]),
            version=str(meta["version"]),
            index=int(meta["index"]),
            text=text,
            title=str(meta.get("title", "")),
            source=str(meta.get("source", "")),
            media_type=str(meta.get("media_type", "")),
            start_char=int(meta.get("start_char", 0)),
            end_char=int(meta.get("end_char", 0)),
            page=int(meta["page"]) if "page" in meta else None,
            page_end=int(meta["page_end"]) if "page_end" in meta else None,
            section=str(meta["section"]) if "section" in meta else None,
        )


@dataclass(frozen=True)
class Passage:
    """A chunk retrieved for a query: ``score`` ranks it in the retrieval mode used (fused,
    BM25 or cosine), ``similarity`` is its cosine similarity to the query."""

    chunk: Chunk
    score: float
    similarity: float | None = None


@dataclass(frozen=True)
class Citation:
    """The passage an answer rests on, numbered as the answer's ``[n]`` markers."""

    number: int
    document_id: str
    title: str
    source: str
    page: int | None
    text: str
    score: float
    chunk_id: str
    # The sentence(s) of the passage that support the answer's claims citing it, and where they
    # sit in the document's text (``start``/``end`` as the chunk's ``start_char`` counts).
    quote: str | None = None
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of an answer as checked against the passages: its text, whether a passage
    supports it, the passages it cites once corrected, and the verifier's score."""

    text: str
    supported: bool
    citations: tuple[int, ...]
    score: float


@dataclass(frozen=True)
class Usage:
    """Token counts reported by (or counted for) a model call."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def total_tokens(self) -> int | None:
        """Sum of both counts when both are known."""
        if self.prompt_tokens is None or self.completion_tokens is None:
            return None
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Answer:
    """A grounded answer to a question, with the passages it cites."""

    answer: str
    citations: list[Citation]
    model: str
    grounded: bool
    usage: Usage = field(default_factory=Usage)
    # Claim checks, when the answer was verified ("off": it was not); ``dropped`` counts the
    # unsupported claims removed from the text under the "drop" policy.
    claims: list[ClaimCheck] = field(default_factory=list)
    verification: str = "off"
    dropped: int = 0
