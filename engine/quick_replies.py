"""Quick replies the bot offers with an answer the knowledge base could not give.

After "not in the knowledge base" the visitor is offered what the bot can help with — the
knowledge base's suggested questions (its widget settings) — and, when human handoff is on and
nobody holds the conversation yet, a person. A client shows them as buttons; a click comes back
as a ``quick_reply`` action whose payload is the question (or a ``handoff`` action).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.i18n import question_language
from kb.models import Answer

MAX_SUGGESTIONS = 3

_HANDOFF_TITLE = {"fr": "Parler à une personne", "de": "Mit einer Person sprechen"}


@dataclass(frozen=True)
class QuickReply:
    """One button: its kind, its label, and what a click sends back."""

    type: str  # "quick_reply" or "handoff"
    title: str
    payload: str

    def as_dict(self) -> dict[str, str]:
        """As the ``quick_replies`` items of a reply and of a stream's ``done`` event."""
        return {"type": self.type, "title": self.title, "payload": self.payload}


class QuickReplies:
    """Which quick replies go with an answer."""

    def __init__(
        self,
        suggestions_of: Callable[[str], Sequence[str]],
        handoff_enabled: Callable[[str], bool] = lambda _kb_id: False,
    ) -> None:
        self._suggestions_of = suggestions_of
        self._handoff_enabled = handoff_enabled

    def after(
        self, kb_id: str, question: str, answer: Answer, state: str
    ) -> tuple[QuickReply, ...]:
        """None for an answer; for a refusal, the suggested questions and a person."""
        if answer.grounded or answer.citations:
            return ()
        asked = question.strip().casefold()
        replies = [
            QuickReply("quick_reply", text, text)
            for text in self._suggestions_of(kb_id)
            if text.strip() and text.strip().casefold() != asked
        ][:MAX_SUGGESTIONS]
        if state == "bot" and self._handoff_enabled(kb_id):
            title = _HANDOFF_TITLE.get(question_language(question), "Talk to a person")
            replies.append(QuickReply("handoff", title, "handoff"))
        return tuple(replies)
