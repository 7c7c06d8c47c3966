"""Feedback on the bot's messages: thumbs up or down with an optional comment."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from api.auth import message_in_path
from api.deps import FeedbackDep
from api.schemas.feedback import FeedbackIn, FeedbackOut

# Guarded by `chat` in create_app; `message_in_path` checks the message's conversation (its
# knowledge base, and for a publishable key the visitor's X-Visitor-Token).
router = APIRouter(prefix="/v1", tags=["conversations"])


@router.post(
    "/messages/{message_id}/feedback",
    response_model=FeedbackOut,
    dependencies=[Depends(message_in_path)],
)
def post_feedback(message_id: str, body: FeedbackIn, feedback: FeedbackDep) -> FeedbackOut:
    """Rate a bot message (a new rating replaces the previous one); fires
    ``message.feedback``. Only the bot's messages take feedback (400 otherwise)."""
    return FeedbackOut.of(feedback.record(message_id, body.rating, body.comment))
