"""The OpenAI chat-completions wire shapes, with a knowledge base as the model.

Extensions (documented in the README): the request may name the answering model in
``answer_model``; a completion carries the checked ``citations`` and ``grounded`` at its top
level, and in a stream they ride on the final chunk (the one with ``finish_reason``).
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.common import CitationOut, ClaimOut, Verification
from engine.conversation import HeldConversation
from engine.rewrite import Turn
from kb.errors import InvalidInput
from kb.models import Answer, KnowledgeBase, Usage


class ChatMessageIn(BaseModel):
    """One message of the request; text parts of multi-part content are joined."""

    # Clients send fields this server does not use (name, tool_calls...): accept and ignore.
    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=50)
    content: (
        Annotated[str, StringConstraints(max_length=100_000)]
        | Annotated[list[dict[str, Any]], Field(max_length=100)]
        | None
    ) = None

    def text(self) -> str:
        """The message's text."""
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionIn(BaseModel):
    """Body of POST /v1/chat/completions; sampling options are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200, description="Knowledge base id or name.")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: dict[str, Any] | None = Field(None, max_length=10)
    answer_model: str | None = Field(
        None, max_length=200, description="Extension: the answering model (see /query)."
    )
    verification: Verification | None = Field(
        None, description="Extension: what happens to unsupported claims (see /query)."
    )

    def question_and_history(self) -> tuple[str, list[Turn]]:
        """The last user message and the user/assistant turns before it."""
        last = self.messages[-1]
        if last.role != "user" or not last.text().strip():
            raise InvalidInput("The last message must be a non-empty 'user' message.")
        history = [
            Turn("user" if m.role == "user" else "assistant", m.text())
            for m in self.messages[:-1]
            if m.role in ("user", "assistant") and m.text().strip()
        ]
        return last.text(), history

    def to_domain(self) -> HeldConversation:
        """The engine's client-held conversation: the knowledge base named by ``model``, the
        last user message and the turns before it, the answering model."""
        question, history = self.question_and_history()
        return HeldConversation(
            self.model, question, tuple(history), self.answer_model, self.verification
        )

    @property
    def include_usage(self) -> bool:
        """Whether the client asked for a usage chunk at the end of a stream."""
        return bool((self.stream_options or {}).get("include_usage"))


def usage_dict(usage: Usage) -> dict[str, int] | None:
    if usage.prompt_tokens is None or usage.completion_tokens is None:
        return None  # the openai client wants all three counts or no usage at all
    total = usage.prompt_tokens + usage.completion_tokens
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": total,
    }


def citation_dicts(answer: Answer) -> list[dict[str, Any]]:
    return [CitationOut.of(c).model_dump() for c in answer.citations]


def verdict_fields(answer: Answer) -> dict[str, Any]:
    """The extension fields of a completion (and of a stream's final chunk)."""
    return {
        "citations": citation_dicts(answer),
        "grounded": answer.grounded,
        "answer_model": answer.model,
        "claims": [ClaimOut.of(c).model_dump() for c in answer.claims],
        "verification": answer.verification,
        "dropped": answer.dropped,
    }


def completion(answer: Answer, model: str) -> dict[str, Any]:
    """A ``chat.completion`` object for the answer."""
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": "stop",
            }
        ],
        **verdict_fields(answer),
    }
    if (usage := usage_dict(answer.usage)) is not None:
        body["usage"] = usage
    return body


def model_list(kbs: list[KnowledgeBase]) -> dict[str, Any]:
    """The ``GET /v1/models`` body: one model per knowledge base."""
    return {
        "object": "list",
        "data": [
            {
                "id": kb.id,
                "object": "model",
                "created": int(kb.created_at.timestamp()),
                "owned_by": "kb-engine",
                "name": kb.name,
                "description": kb.description,
            }
            for kb in kbs
        ],
    }
