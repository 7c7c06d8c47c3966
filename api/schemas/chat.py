"""Request and response bodies of the conversation and OpenAI-compatible APIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import CitationOut, ClaimOut, UsageOut, Verification
from api.schemas.feedback import FeedbackOut
from api.schemas.free_form import FreeFormObject
from engine.conversation import Action, BotReply, UserMessage
from engine.handoff.service import HandoffNotice
from kb.db.conversations import Conversation, ConversationEvent, Message
from kb.db.feedback import Feedback
from kb.db.profiles import UserProfile
from kb.errors import InvalidInput
from kb.models import Usage

_ID = Field(min_length=1, max_length=200)


def usage_out(usage: Usage) -> UsageOut:
    """Token usage as the API shows it."""
    return UsageOut(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActionIn(_Strict):
    """A button or quick reply pressed; the bot answers its ``payload``. ``handoff`` is the
    "talk to a person" button: the conversation goes to a person (docs/handoff.md)."""

    type: Literal["button", "quick_reply", "handoff"]
    payload: str = Field(min_length=1, max_length=4000)
    title: str | None = Field(None, max_length=200, description="The label the user saw.")
    variables: FreeFormObject = Field(
        default_factory=dict, description="Merged into the conversation's variables."
    )


class SendIn(_Strict):
    """Body of POST /v1/messages/send: ``text`` or ``action``, not both."""

    kb_id: str = Field(min_length=1, max_length=200, description="Knowledge base id or name.")
    user_id: str = _ID
    conversation_id: str | None = Field(
        None, max_length=200, description="Omit to start a new conversation."
    )
    text: str | None = Field(None, min_length=1, max_length=4000)
    action: ActionIn | None = None
    model: str | None = Field(None, max_length=200, description="Answering model (see /query).")
    top_k: int = Field(5, ge=1, le=20)
    stream: bool = Field(False, description="Answer as Server-Sent Events.")
    verification: Verification | None = Field(
        None, description="What happens to unsupported claims: drop, flag or off (see /query)."
    )

    @model_validator(mode="after")
    def _text_or_action(self) -> SendIn:
        if (self.text is None) == (self.action is None):
            raise ValueError("give exactly one of 'text' and 'action'")
        return self

    def to_domain(self, visitor: bool = False) -> UserMessage:
        """The engine's message object; ``visitor`` when sent through a publishable key."""
        action = Action(**self.action.model_dump()) if self.action else None
        if visitor and self.verification is not None:
            # A visitor's browser must not switch off what the site's owner chose.
            raise InvalidInput("'verification' can only be chosen with a secret API key.")
        return UserMessage(
            kb_id=self.kb_id,
            user_id=self.user_id,
            text=self.text,
            action=action,
            conversation_id=self.conversation_id,
            model=self.model,
            top_k=self.top_k,
            visitor=visitor,
            verification=self.verification,
        )


class MessageOut(BaseModel):
    """One stored message; bot messages carry citations, grounding and the model used."""

    id: str = Field(description="Empty for a notice that was not stored (handoff).")
    conversation_id: str
    role: Literal["user", "bot", "agent"] = Field(description="agent: a person's reply.")
    text: str
    created_at: datetime
    action: dict[str, Any] | None
    standalone_question: str | None = Field(
        description="For user messages: the question as retrieval saw it, history resolved."
    )
    citations: list[CitationOut]
    grounded: bool | None
    model: str | None
    agent_name: str | None = Field(None, description="For agent messages: who replied.")
    seq: int = Field(0, description="Its place in the database: the cursor of .../events.")
    latency_ms: int | None = Field(
        None, description="For bot messages: milliseconds from the question to the answer."
    )
    feedback: FeedbackOut | None = Field(
        None, description="For bot messages: the visitor's thumbs up or down, if any."
    )

    @classmethod
    def of(cls, message: Message, feedback: Feedback | None = None) -> MessageOut:
        """From the domain model, with the feedback left on it."""
        return cls(
            id=message.id,
            conversation_id=message.conversation_id,
            role=message.role,
            text=message.text,
            created_at=message.created_at,
            action=message.action,
            standalone_question=message.standalone_question,
            # Validated from the stored dicts, so fields added to citations later do not break
            # old messages.
            citations=[CitationOut.model_validate(c) for c in message.citations],
            grounded=message.grounded,
            model=message.model,
            agent_name=message.agent_name,
            seq=message.seq,
            latency_ms=message.latency_ms,
            feedback=FeedbackOut.of(feedback) if feedback else None,
        )


ConversationState = Literal["bot", "waiting_for_agent", "agent", "closed"]


class ConversationOut(BaseModel):
    """A conversation, its variables, and when the user last read or typed."""

    id: str
    kb_id: str
    user_id: str
    variables: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    read_at: datetime | None
    typing_at: datetime | None
    state: ConversationState = Field(
        "bot", description="Who answers: the bot, a person soon (waiting_for_agent), a person."
    )
    handoff_at: datetime | None = Field(None, description="When it was last handed to a person.")
    handoff_reason: str | None = Field(
        None, description="visitor_request, visitor_message, unanswered, or the API caller's."
    )

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        """From the domain model."""
        return cls.model_validate(conversation, from_attributes=True)


class HandoffNoticeOut(BaseModel):
    """What the visitor is told when the conversation goes to, or is held for, a person."""

    state: ConversationState
    text: str
    reason: str | None
    available: bool = Field(description="Whether people work now (business hours).")
    available_at: datetime | None = Field(description="Outside business hours: the next opening.")
    lead_form: bool = Field(description="Offer the lead form (outside business hours).")

    @classmethod
    def of(cls, notice: HandoffNotice) -> HandoffNoticeOut:
        """From the domain model."""
        return cls.model_validate(notice, from_attributes=True)


class QuickReplyOut(BaseModel):
    """A button offered with the bot's reply."""

    type: Literal["quick_reply", "handoff"]
    title: str
    payload: str


class SendOut(BaseModel):
    """The bot's reply to a message."""

    conversation_id: str
    user_message: MessageOut
    message: MessageOut = Field(description="The bot's message.")
    answer: str
    citations: list[CitationOut]
    grounded: bool
    model: str
    usage: UsageOut
    claims: list[ClaimOut] = Field(default_factory=list)
    verification: Verification = "off"
    dropped: int = 0
    visitor_token: str | None = Field(
        None,
        description="Only when a publishable key started the conversation: send it as "
        "X-Visitor-Token with every later request on the conversation. Shown this once.",
    )
    state: ConversationState = Field("bot", description="The conversation's state now.")
    handoff: HandoffNoticeOut | None = Field(
        None, description="Set when the conversation went to, or is held for, a person."
    )
    quick_replies: list[QuickReplyOut] = Field(
        default_factory=list,
        description="Buttons offered with an answer the knowledge base could not give: its "
        "suggested questions (send one back as a quick_reply action) and, when handoff is on, "
        "a person (a handoff action).",
    )

    @classmethod
    def of(cls, reply: BotReply) -> SendOut:
        """From the domain model."""
        answer = reply.answer
        return cls(
            conversation_id=reply.conversation.id,
            user_message=MessageOut.of(reply.user_message),
            message=MessageOut.of(reply.bot_message),
            answer=answer.answer,
            citations=[CitationOut.of(c) for c in answer.citations],
            grounded=answer.grounded,
            model=answer.model,
            usage=usage_out(answer.usage),
            claims=[ClaimOut.of(c) for c in answer.claims],
            verification=answer.verification,
            dropped=answer.dropped,
            visitor_token=reply.visitor_token,
            state=reply.conversation.state,
            handoff=HandoffNoticeOut.of(reply.handoff) if reply.handoff else None,
            quick_replies=[QuickReplyOut(**r) for r in reply.quick_replies],
        )


class VariablesIn(_Strict):
    """Body of PUT /v1/conversations/{id}/variables: replaces them all."""

    variables: FreeFormObject


class VariablesOut(BaseModel):
    """A conversation's variables."""

    conversation_id: str
    variables: dict[str, Any]


class EventIn(_Strict):
    """Body of POST /v1/conversations/{id}/events."""

    type: Literal["typing", "read"]


class EventOut(BaseModel):
    """A recorded event."""

    id: str
    conversation_id: str
    type: Literal["typing", "read"]
    created_at: datetime

    @classmethod
    def of(cls, event: ConversationEvent) -> EventOut:
        """From the domain model."""
        return cls.model_validate(event, from_attributes=True)


class ProfileIn(_Strict):
    """Body of PUT /v1/users/{user_id}/profile: replaces the profile."""

    name: str | None = Field(None, max_length=200)
    language: str | None = Field(
        None,
        max_length=35,
        description="An ISO 639-1 code or BCP 47 tag ('fr', 'pt-BR') or a language's name "
        "('French', 'français'); anything else is stored but not used.",
    )
    plan: str | None = Field(None, max_length=200)
    attributes: FreeFormObject = Field(default_factory=dict, description="Free-form attributes.")

    def to_domain(self, kb_id: str, user_id: str) -> UserProfile:
        """The engine's profile object."""
        return UserProfile(
            kb_id=kb_id,
            user_id=user_id,
            name=self.name,
            language=self.language,
            plan=self.plan,
            attributes=dict(self.attributes),
        )


class ProfileOut(BaseModel):
    """A user's profile in one knowledge base."""

    kb_id: str
    user_id: str
    name: str | None
    language: str | None
    plan: str | None
    attributes: dict[str, Any]
    updated_at: datetime | None

    @classmethod
    def of(cls, profile: UserProfile) -> ProfileOut:
        """From the domain model."""
        return cls.model_validate(profile, from_attributes=True)
