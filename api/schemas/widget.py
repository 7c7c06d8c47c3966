"""Chat-widget settings: what an administrator stores per knowledge base, and the public part a
page's widget reads with its publishable key. Field names match the widget's ``data-*``
attributes (``privacy_url`` is ``data-privacy-url``)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def _hex_colour(value: str | None) -> str | None:
    if value is not None and not _HEX.fullmatch(value):
        raise ValueError("a colour is a hex value such as #1d4ed8 or #fff")
    return value.lower() if value else value


def _web_url(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or any(c in value for c in " \t\r\n")
    ):
        raise ValueError("only absolute http(s) URLs are allowed")
    return value


def _one_line(value: str | None) -> str | None:
    return None if value is None else " ".join(value.split())


HexColour = Annotated[str | None, AfterValidator(_hex_colour)]
WebUrl = Annotated[str | None, Field(max_length=2048), AfterValidator(_web_url)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_one_line)]
FieldName = Annotated[str, Field(min_length=1, max_length=40), AfterValidator(_one_line)]


class WidgetPublic(BaseModel):
    """What any page holding the publishable key may read (GET /v1/widget/config)."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str | None, Field(max_length=80), AfterValidator(_one_line)] = Field(
        None, description="The panel's title; the knowledge base's name when unset."
    )
    avatar: WebUrl = Field(None, description="An image shown beside the title (http(s)).")
    color: HexColour = Field(
        None, description="The primary colour (#rgb or #rrggbb); text on it is picked for contrast."
    )
    position: Literal["left", "right"] = Field("right", description="The launcher's corner.")
    welcome: str | None = Field(None, max_length=1000, description="The first bot message.")
    suggestions: list[ShortText] = Field(
        default_factory=list, max_length=6, description="Questions offered as chips."
    )
    placeholder: Annotated[str | None, Field(max_length=120), AfterValidator(_one_line)] = None
    lang: Literal["en", "fr"] | None = Field(
        None, description="The UI language; unset: the page's lang, then the browser's."
    )
    citations: bool = Field(True, description="Show the cited sources under answers.")
    lead: Literal["off", "after_answer", "button"] = Field(
        "off",
        description="The lead form: never, offered after the first answer, or behind a button.",
    )
    lead_fields: list[FieldName] = Field(
        default_factory=list,
        max_length=5,
        description="Extra lead-form fields (name, e-mail are always asked).",
    )
    privacy_url: WebUrl = Field(None, description="A link to the privacy notice (http(s)).")
    handoff: bool = Field(
        False,
        description="Show a 'talk to a person' button. The public configuration says true "
        "exactly when handoff is enabled in the knowledge base's handoff settings "
        "(PUT /v1/kbs/{kb_id}/handoff); the value stored here is not used.",
    )


class WidgetSettingsIn(WidgetPublic):
    """Body of PUT /v1/kbs/{kb_id}/widget: replaces every setting."""

    enabled: bool = Field(True, description="False: the widget refuses to start (404).")
    note: str | None = Field(
        None, max_length=1000, description="For administrators; never shown to visitors."
    )


class WidgetSettingsOut(WidgetSettingsIn):
    """A knowledge base's widget settings."""

    kb_id: str
    updated_at: datetime | None = Field(description="None while the defaults apply.")

    @classmethod
    def of(
        cls, kb_id: str, stored: dict[str, Any], updated_at: datetime | None
    ) -> WidgetSettingsOut:
        """From what the repository holds (validated again: older rows get new defaults)."""
        settings = WidgetSettingsIn.model_validate(stored)
        return cls(kb_id=kb_id, updated_at=updated_at, **settings.model_dump())


class WidgetConfigOut(WidgetPublic):
    """The public part of a knowledge base's widget settings, with the knowledge base to ask."""

    model_config = ConfigDict(extra="forbid")

    kb_id: str

    @classmethod
    def of(cls, kb_id: str, kb_name: str, stored: dict[str, Any]) -> WidgetConfigOut:
        """The public fields only; the title defaults to the knowledge base's name."""
        public = WidgetPublic.model_validate(
            {k: v for k, v in stored.items() if k in WidgetPublic.model_fields}
        )
        data = public.model_dump()
        data["title"] = data["title"] or kb_name
        return cls(kb_id=kb_id, **data)
