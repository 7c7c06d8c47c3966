"""A question for one knowledge base, as it travels from a route through answering to retrieval."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.prompts import Asker
from engine.retrieval.retriever import SearchFilters, SearchRequest


@dataclass(frozen=True)
class Question:
    """A question for one knowledge base and how to answer it: the answering model (None: the
    knowledge base's default, else the server's), how many passages, the retrieval mode and
    filters, who is asking when their profile is known, and the verification policy."""

    kb_id: str
    text: str
    model: str | None = None
    top_k: int = 5
    mode: str | None = None
    filters: SearchFilters = field(default_factory=SearchFilters)
    asker: Asker | None = None
    # What happens to claims the passages do not support (None: the knowledge base's policy).
    verification: Literal["drop", "flag", "off"] | None = None

    def search_request(self) -> SearchRequest:
        """What the retriever is asked for: the passages this question is answered from."""
        return SearchRequest(self.text, top_k=self.top_k, mode=self.mode, filters=self.filters)
