"""Request and response bodies of feedback on bot messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kb.db.feedback import MAX_COMMENT_CHARS, Feedback


class FeedbackIn(BaseModel):
    """Body of POST /v1/messages/{message_id}/feedback; a new one replaces the previous one."""

    model_config = ConfigDict(extra="forbid")

    rating: Literal["up", "down"] = Field(description="Thumbs up or down.")
    comment: str | None = Field(
        None,
        max_length=MAX_COMMENT_CHARS,
        description="What the visitor says about the answer (optional).",
    )


class FeedbackOut(BaseModel):
    """The feedback left on a bot message."""

    id: str
    message_id: str
    conversation_id: str
    rating: Literal["up", "down"]
    comment: str | None
    created_at: datetime

    @classmethod
    def of(cls, feedback: Feedback) -> FeedbackOut:
        """From the domain model."""
        return cls.model_validate(feedback, from_attributes=True)
