"""Human handoff bodies: a knowledge base's handoff settings, a handoff request, an agent's
reply, and what a visitor's poll of a conversation's events returns."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.schemas.chat import ConversationOut, ConversationState, MessageOut
from engine.handoff.policy import parse_interval
from engine.handoff.service import ConversationEvents


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (an IANA name: Europe/Paris)") from exc
    return value


def _interval(value: str) -> str:
    parse_interval(value)  # ValueError names what is wrong
    return value


Interval = Annotated[str, Field(max_length=11), AfterValidator(_interval)]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # engine.handoff.policy.DAYS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HandoffSettingsIn(_Strict):
    """Body of PUT /v1/kbs/{kb_id}/handoff: replaces every setting."""

    enabled: bool = Field(False, description="Whether conversations can go to a person.")
    after_unanswered: int = Field(
        0,
        ge=0,
        le=20,
        description="Hand over after this many answers in a row the knowledge base could not "
        "give (0: never by policy).",
    )
    recognise_requests: bool = Field(
        True, description="Hand over when a visitor writes that they want a person (en, fr)."
    )
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_zone)] = Field(
        "UTC", description="The business hours' IANA time zone."
    )
    business_hours: dict[Day, Annotated[list[Interval], Field(max_length=4)]] = Field(
        default_factory=dict,
        description='Opening intervals per weekday, e.g. {"mon": ["09:00-12:00", '
        '"14:00-18:00"]}; none at all: people are always there.',
    )
    out_of_hours_message: str | None = Field(
        None,
        max_length=1000,
        description="Told outside business hours instead of the default; {when} is the next "
        "opening.",
    )


class HandoffSettingsOut(HandoffSettingsIn):
    """A knowledge base's handoff settings."""

    kb_id: str
    updated_at: datetime | None = Field(description="None while the defaults apply.")

    @classmethod
    def of(
        cls, kb_id: str, stored: dict[str, Any], updated_at: datetime | None
    ) -> HandoffSettingsOut:
        """From what the repository holds (validated again: older rows get new defaults)."""
        settings = HandoffSettingsIn.model_validate(stored)
        return cls(kb_id=kb_id, updated_at=updated_at, **settings.model_dump())


class HandoffIn(_Strict):
    """Body of POST /v1/conversations/{id}/handoff."""

    reason: str = Field(
        "api", min_length=1, max_length=40, description="Why (stored, sent to the webhook)."
    )


class AgentMessageIn(_Strict):
    """Body of POST /v1/conversations/{id}/messages: a person's reply to the visitor."""

    role: Literal["agent"] = "agent"
    text: str = Field(min_length=1, max_length=4000)
    agent_name: str | None = Field(
        None, max_length=200, description="Shown to the visitor beside the reply."
    )


class HandoffOut(BaseModel):
    """The conversation after a handoff request, and what the visitor is told."""

    conversation: ConversationOut
    text: str = Field(description="The notice shown to the visitor.")
    available: bool = Field(description="Whether people work now (business hours).")
    available_at: datetime | None = Field(description="Outside business hours: the next opening.")
    lead_form: bool = Field(description="Offer the lead form (outside business hours).")
    message: MessageOut | None = Field(description="The notice as stored (None: already held).")


class ConversationEventsOut(BaseModel):
    """GET /v1/conversations/{id}/events: the state, and the messages after the cursor."""

    conversation_id: str
    state: ConversationState
    items: list[MessageOut] = Field(description="Messages stored after the cursor, oldest first.")
    cursor: int = Field(description="Send it as ?after= on the next poll.")

    @classmethod
    def of(cls, events: ConversationEvents) -> ConversationEventsOut:
        """From the domain model."""
        return cls(
            conversation_id=events.conversation.id,
            state=events.conversation.state,  # type: ignore[arg-type]
            items=[MessageOut.of(m) for m in events.messages],
            cursor=events.cursor,
        )
