"""The model seam: one small interface over every answering model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from kb.models import Passage, Usage

Role = Literal["system", "user", "assistant"]
# The one refusal sentence: prompts ask for it verbatim, the extractive model gives it.
NOT_FOUND_ANSWER = "The knowledge base does not contain an answer to this question."


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat prompt."""

    role: Role
    content: str


@dataclass(frozen=True)
class Prompt:
    """What a model is asked: the chat messages, and the question and passages they were built from.

    Chat models read ``messages``; small local models read ``compact_messages`` when present (a
    long system prompt derails a 135M model); the extractive answerer reads ``question`` and
    ``passages``.
    """

    messages: list[ChatMessage]
    question: str
    passages: list[Passage] = field(default_factory=list)
    compact_messages: list[ChatMessage] = field(default_factory=list)


@dataclass(frozen=True)
class Generation:
    """A model's reply."""

    text: str
    model: str
    usage: Usage = field(default_factory=Usage)


class AnswerModel(Protocol):
    """Anything that can answer a prompt."""

    name: str

    def generate(self, prompt: Prompt, max_tokens: int) -> Generation:
        """The model's reply to the prompt, at most ``max_tokens`` tokens long."""
