"""Request and response bodies of the HTTP API (kept apart from the domain models)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from engine.question import Question
from engine.retrieval.retriever import SearchFilters, SearchRequest
from kb.db.indexes import EmbeddingIndex
from kb.models import Answer, Chunk, Citation, ClaimCheck, Document, KnowledgeBase, Passage

T = TypeVar("T")
# Bounded pieces of request bodies; a body as a whole is capped by KB_API__MAX_JSON_* settings.
TagKey = Annotated[str, StringConstraints(max_length=100)]
TagValue = Annotated[str, StringConstraints(max_length=1000)] | int | float | bool
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=100)]
ShortText = Annotated[str, StringConstraints(max_length=200)]
Verification = Literal["drop", "flag", "off"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KnowledgeBaseCreate(_Strict):
    """Body of POST /v1/kbs."""

    name: str = Field(min_length=1, max_length=200, description="Unique, human-readable name.")
    description: str = Field("", max_length=5000)
    default_model: str | None = Field(
        None,
        max_length=400,
        description="Model for questions that name none, e.g. 'anthropic:claude-sonnet-4' "
        "(a comma-separated list is a fallback chain); the server default when unset.",
    )
    embedding_model: str | None = Field(
        None,
        min_length=1,
        max_length=400,
        description="Embedding model of its index, e.g. 'bundled:multilingual-e5-small' for "
        "French and other languages; KB_EMBEDDING__MODEL when unset. Changed later by "
        "POST /v1/kbs/{kb_id}/reindex.",
    )
    verification: Verification | None = Field(
        None,
        description="What happens to claims no passage supports in its answers: drop, flag or "
        "off; the server's setting (KB_ANSWER__VERIFICATION) when unset.",
    )


class KnowledgeBaseUpdate(_Strict):
    """Body of PATCH /v1/kbs/{kb_id}; ``"default_model": null`` clears it."""

    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    default_model: str | None = Field(None, max_length=400)
    verification: Verification | None = Field(
        None,
        description="What happens to claims no passage supports in this knowledge base's "
        "answers: drop, flag or off; null: the server's setting.",
    )


class KnowledgeBaseOut(BaseModel):
    """A knowledge base."""

    id: str
    name: str
    description: str
    default_model: str | None
    verification: Verification | None = Field(
        None, description="Its verification policy (null: the server's setting)."
    )
    embedding_model: str | None = Field(
        None, description="The embedding model that filled its index (questions use it too)."
    )
    embedding_fingerprint: str | None = Field(
        None, description="That model's name and the first 12 hex digits of its weights' sha256."
    )
    document_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, kb: KnowledgeBase, index: EmbeddingIndex | None = None) -> KnowledgeBaseOut:
        """From the domain model (and its embedding index, when known)."""
        out = cls.model_validate(kb, from_attributes=True)
        if index is not None:
            out.embedding_model, out.embedding_fingerprint = index.model, index.fingerprint
        return out


class TextDocumentIn(_Strict):
    """JSON body of POST /v1/kbs/{kb_id}/documents."""

    # No max_length of its own: KB_API__MAX_JSON_STRING_CHARS and KB_API__MAX_JSON_BYTES cap it.
    text: str = Field(min_length=1, description="The document's text (Markdown or plain).")
    title: str | None = Field(None, max_length=1000)
    source: str | None = Field(
        None,
        max_length=2048,
        description="Identity of the document; the same source again replaces its old version. "
        "Defaults to the title, or a hash of the text.",
    )
    metadata: Tags = Field(default_factory=dict)


class DocumentOut(BaseModel):
    """A document and its current version."""

    id: str
    kb_id: str
    title: str
    source: str
    media_type: str
    content_hash: str
    size_bytes: int
    chunk_count: int
    status: str
    error: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: Document) -> DocumentOut:
        """From the domain model."""
        return cls.model_validate(doc, from_attributes=True)


class IngestOut(BaseModel):
    """Result of an upload: the document and whether it was created, updated or unchanged."""

    outcome: Literal["created", "updated", "unchanged"]
    document: DocumentOut


class ChunkOut(BaseModel):
    """A passage of a document."""

    id: str
    document_id: str
    index: int
    text: str
    page: int | None
    page_end: int | None
    start_char: int
    end_char: int

    @classmethod
    def of(cls, chunk: Chunk) -> ChunkOut:
        """From the domain model."""
        return cls.model_validate(chunk, from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int
    limit: int
    offset: int


Mode = Literal["dense", "lexical", "hybrid"]


class FiltersIn(_Strict):
    """Restrict retrieval; every filter applies to both retrievers before fusion."""

    document_ids: list[ShortText] = Field(default_factory=list, max_length=1000)
    sources: list[Annotated[str, StringConstraints(max_length=2048)]] = Field(
        default_factory=list,
        max_length=100,
        description="Source prefixes, e.g. 'https://docs.example.com/billing/'.",
    )
    media_types: list[ShortText] = Field(default_factory=list, max_length=20)
    tags: Tags = Field(
        default_factory=dict, description="Metadata given at upload; all must match."
    )

    def to_domain(self) -> SearchFilters:
        """The engine's filter object."""
        return SearchFilters(
            document_ids=tuple(self.document_ids),
            source_prefixes=tuple(self.sources),
            media_types=tuple(self.media_types),
            tags=tuple(sorted(self.tags.items())),
        )


class SearchIn(_Strict):
    """Body of POST /v1/kbs/{kb_id}/search."""

    query: str = Field(min_length=1, max_length=4000)
    top_k: int = Field(5, ge=1, le=50)
    min_score: float | None = Field(
        None, ge=-1, le=1, description="Cosine-similarity floor; the server setting when omitted."
    )
    mode: Mode | None = Field(None, description="dense, lexical or hybrid (server default).")
    filters: FiltersIn = Field(default_factory=FiltersIn)

    def to_domain(self) -> SearchRequest:
        """The retriever's request object."""
        return SearchRequest(
            self.query,
            top_k=self.top_k,
            min_score=self.min_score,
            mode=self.mode,
            filters=self.filters.to_domain(),
        )


class PassageOut(BaseModel):
    """A retrieved passage."""

    chunk_id: str
    document_id: str
    title: str
    source: str
    page: int | None
    text: str
    score: float = Field(description="Rank score in the mode used (fused, BM25 or cosine).")
    similarity: float | None = Field(description="Cosine similarity to the query.")

    @classmethod
    def of(cls, passage: Passage) -> PassageOut:
        """From the domain model."""
        c = passage.chunk
        return cls(
            chunk_id=c.id,
            document_id=c.document_id,
            title=c.title,
            source=c.source,
            page=c.page,
            text=c.text,
            score=round(passage.score, 4),
            similarity=None if passage.similarity is None else round(passage.similarity, 4),
        )


class SearchOut(BaseModel):
    """Search results, best first."""

    results: list[PassageOut]


class QueryIn(_Strict):
    """Body of POST /v1/kbs/{kb_id}/query."""

    question: str = Field(min_length=1, max_length=4000)
    model: str | None = Field(
        None,
        max_length=200,
        description="A model spec such as 'extractive', 'openai:gpt-4o' or "
        "'anthropic:claude-sonnet-4-5'; comma-separated specs are a fallback chain.",
    )
    top_k: int = Field(5, ge=1, le=20)
    mode: Mode | None = Field(None, description="dense, lexical or hybrid (server default).")
    filters: FiltersIn = Field(default_factory=FiltersIn)
    stream: bool = Field(
        False, description="Answer as Server-Sent Events: delta, verdict, citations, then done."
    )
    verification: Verification | None = Field(
        None,
        description="What happens to claims no passage supports: drop, flag or off "
        "(default: the knowledge base's policy, else the server's).",
    )

    def to_domain(self, kb_id: str) -> Question:
        """The engine's question object, asked of the knowledge base ``kb_id``."""
        return Question(
            kb_id,
            self.question,
            model=self.model,
            top_k=self.top_k,
            mode=self.mode,
            filters=self.filters.to_domain(),
            verification=self.verification,
        )


class CitationOut(BaseModel):
    """A passage the answer cites, numbered as its [n] markers."""

    number: int
    document_id: str
    title: str
    source: str
    page: int | None
    text: str
    score: float
    chunk_id: str
    quote: str | None = Field(
        None,
        description="The sentence(s) of the passage supporting the claims that cite it (null "
        "when the answer was not verified).",
    )
    start: int | None = Field(
        None, description="Offset of the quote's first character in the document's text."
    )
    end: int | None = Field(None, description="Offset just past the quote's last character.")

    @classmethod
    def of(cls, citation: Citation) -> CitationOut:
        """From the domain model."""
        return cls.model_validate(citation, from_attributes=True)


class ClaimOut(BaseModel):
    """One claim of the answer as checked against the passages."""

    text: str
    supported: bool
    citations: list[int] = Field(description="Passages the claim cites, corrected.")
    score: float = Field(description="The verifier's support score, 0 to 1.")

    @classmethod
    def of(cls, claim: ClaimCheck) -> ClaimOut:
        """From the domain model."""
        return cls(
            text=claim.text,
            supported=claim.supported,
            citations=list(claim.citations),
            score=claim.score,
        )


class UsageOut(BaseModel):
    """Token usage when the model reports it."""

    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None


class AnswerOut(BaseModel):
    """A grounded answer."""

    answer: str
    citations: list[CitationOut]
    model: str
    grounded: bool = Field(description="Every claim shown is supported by a cited passage.")
    usage: UsageOut
    claims: list[ClaimOut] = Field(
        default_factory=list, description="Each claim and its verdict (empty when not verified)."
    )
    verification: Verification = Field(
        "off", description="The policy the answer was checked under."
    )
    dropped: int = Field(0, description="Unsupported claims removed from the answer.")

    @classmethod
    def of(cls, answer: Answer) -> AnswerOut:
        """From the domain model."""
        return cls(
            answer=answer.answer,
            citations=[CitationOut.of(c) for c in answer.citations],
            model=answer.model,
            grounded=answer.grounded,
            usage=UsageOut(
                prompt_tokens=answer.usage.prompt_tokens,
                completion_tokens=answer.usage.completion_tokens,
                total_tokens=answer.usage.total_tokens,
            ),
            claims=[ClaimOut.of(c) for c in answer.claims],
            verification=answer.verification,
            dropped=answer.dropped,
        )
