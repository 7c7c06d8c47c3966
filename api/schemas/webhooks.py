"""Request and response bodies of the webhook and lead routes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kb.db.leads import Lead, LeadIn
from kb.runtime.events import EventName
from kb.webhooks.models import Delivery, DeliveryStatus, Webhook

Subscribable = EventName | Literal["*"]
# A pragmatic address check (RFC 5321 lengths, a dotted domain, no spaces or angle brackets);
# the only real proof of an address is mail reaching it.
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class WebhookCreate(BaseModel):
    """Body of POST /v1/webhooks."""

    model_config = ConfigDict(extra="forbid")

    # No length cap here: a URL over 2048 characters is refused as url_refused (400).
    url: str = Field(description="http(s) URL receiving the events.")
    events: list[Subscribable] = Field(
        min_length=1,
        max_length=16,
        description="conversation.started, message.created, document.ingested, "
        "crawl.completed, lead.created, conversation.handoff_requested, "
        "conversation.agent_replied, conversation.released, conversation.closed, or * for all.",
    )
    secret: str | None = Field(
        None,
        min_length=16,
        max_length=256,
        description="The signing secret; generated (whsec_...) when omitted.",
    )
    description: str = Field("", max_length=500, description="A label for the subscription.")


class WebhookUpdate(BaseModel):
    """Body of PATCH /v1/webhooks/{id}: omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="A new URL, checked again.")
    events: list[Subscribable] | None = Field(None, min_length=1, max_length=16)
    active: bool | None = Field(None, description="false pauses deliveries; they wait.")
    description: str | None = Field(None, max_length=500)


class WebhookRotate(BaseModel):
    """Body of POST /v1/webhooks/{id}/rotate-secret (optional)."""

    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(
        None, min_length=16, max_length=256, description="The new secret; generated if omitted."
    )
    grace_period_s: int = Field(
        86_400,
        ge=0,
        le=7 * 86_400,
        description="Seconds the old secret keeps signing too (a second v1= value).",
    )


class WebhookOut(BaseModel):
    """A subscription as listed: never its secret."""

    id: str
    url: str
    events: list[str]
    description: str
    active: bool
    created_at: datetime
    consecutive_failures: int = Field(
        description="Deliveries that ended failed since the last one that succeeded."
    )
    disabled_reason: str | None = Field(
        description="Why the subscription was paused automatically; cleared by PATCH active=true."
    )

    @classmethod
    def of(cls, hook: Webhook) -> WebhookOut:
        """From the domain model."""
        return cls(
            id=hook.id,
            url=hook.url,
            events=list(hook.events),
            description=hook.description,
            active=hook.active,
            created_at=hook.created_at,
            consecutive_failures=hook.consecutive_failures,
            disabled_reason=hook.disabled_reason,
        )


class WebhookCreated(WebhookOut):
    """A new subscription with its signing secret, shown this once."""

    secret: str = Field(description="Verify signatures with it; it cannot be shown again.")


class DeliveryOut(BaseModel):
    """One delivery of an event to a subscription."""

    id: str
    event: str
    event_id: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    last_response: str | None = Field(description="The start of the receiver's last answer.")
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        """From the domain model."""
        return cls(
            id=delivery.id,
            event=delivery.event,
            event_id=delivery.event_id,
            status=delivery.status,
            attempts=delivery.attempts,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            last_response=delivery.last_response,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )


class LeadCreate(BaseModel):
    """Body of POST /v1/conversations/{id}/lead."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=254, description="The visitor's e-mail address.")
    question: str = Field("", max_length=4000, description="What the visitor wants to know.")
    fields: dict[str, str] = Field(
        default_factory=dict, max_length=20, description="Extra answers (form fields)."
    )

    @field_validator("name")
    @classmethod
    def _named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name is blank")
        return value.strip()

    @field_validator("email")
    @classmethod
    def _address(cls, value: str) -> str:
        value = value.strip()
        local, _, domain = value.rpartition("@")
        if (
            not _EMAIL.fullmatch(value)
            or local.startswith(".")
            or local.endswith(".")
            or ".." in local
            or any(
                len(label) > 63 or label.startswith("-") or label.endswith("-")
                for label in domain.split(".")
            )
        ):
            raise ValueError("not a valid e-mail address")
        return value

    @field_validator("fields")
    @classmethod
    def _small(cls, value: dict[str, str]) -> dict[str, str]:
        if any(len(k) > 100 or len(v) > 1000 for k, v in value.items()):
            raise ValueError("field names are at most 100 characters, values 1000")
        return value

    def to_domain(self) -> LeadIn:
        """The domain input."""
        return LeadIn(self.name, self.email, self.question, dict(self.fields))


class LeadOut(BaseModel):
    """A recorded lead."""

    id: str
    conversation_id: str
    kb_id: str
    user_id: str
    name: str
    email: str
    question: str
    fields: dict[str, str]
    created_at: datetime

    @classmethod
    def of(cls, lead: Lead) -> LeadOut:
        """From the domain model."""
        return cls(
            id=lead.id,
            conversation_id=lead.conversation_id,
            kb_id=lead.kb_id,
            user_id=lead.user_id,
            name=lead.name,
            email=lead.email,
            question=lead.question,
            fields=lead.fields,
            created_at=lead.created_at,
        )
