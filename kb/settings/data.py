"""Settings of conversation data: privacy (retention, masking; ``KB_PRIVACY__``) and analytics
(``KB_ANALYTICS__``); ``kb.settings`` gathers them."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PrivacySettings(BaseModel):
    """How long conversations are kept and what of them is stored."""

    retention_days: int = Field(
        0,
        ge=0,
        description="Conversations with no message for this many days are deleted with their "
        "messages, events and feedback (leads and profiles stay). 0: kept forever.",
    )
    retention_interval_s: float = Field(
        3600.0,
        gt=0,
        description="Seconds between two runs of the retention job in the server process.",
    )
    mask_pii: bool = Field(
        False,
        description="Mask e-mail addresses and phone numbers (international and French "
        "formats) in message texts and feedback comments before they are stored, as [email] "
        "and [phone]. Leads keep the address the visitor gave.",
    )


class AnalyticsSettings(BaseModel):
    """How the analytics report groups questions by meaning."""

    max_questions: int = Field(
        300,
        ge=1,
        le=5000,
        description="Most frequent distinct questions of a period embedded and grouped into "
        "topics (the long tail beyond them is counted, not grouped).",
    )
    cluster_threshold: float = Field(
        0.65,
        gt=0,
        le=1,
        description="How alike two questions must be to share a topic, from 0 (the embedding "
        "model's relevance floor) to 1 (identical): the cosine needed is floor + (1 - floor) * "
        "this (0.755 with all-MiniLM-L6-v2, 0.93 with multilingual-e5-small).",
    )
    top: int = Field(
        10,
        ge=1,
        le=100,
        description="Topics, documents and questions listed in each ranking of the report.",
    )
