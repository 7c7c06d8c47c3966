"""Bounds on what callers may make the registry store: free-form objects (conversation
variables, profile attributes, lead fields), how many rows a conversation or user may grow, and
how many bytes one conversation's messages may take in all.

Free-form objects are checked where they are written, after any merge, so every path that
writes one (a PUT, a button action, a lead, a profile) is held to the same bound.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kb.errors import LimitReached, StateTooLarge

STATE_MAX_KEYS = 100
STATE_MAX_BYTES = 64 * 1024
STATE_MAX_KEY_CHARS = 200


def state_size(value: dict[str, Any]) -> int:
    """Bytes of ``value`` as (ASCII-escaped) JSON, as it is stored."""
    return len(json.dumps(value, default=str))


def message_size(
    text: str,
    action: dict[str, Any] | None = None,
    standalone_question: str | None = None,
    citations: list[dict[str, Any]] | None = None,
    **_other: Any,
) -> int:
    """Bytes one message takes as stored: its text and question as UTF-8, the rest as JSON."""
    size = len(text.encode()) + len((standalone_question or "").encode())
    for value in (action, citations):
        if value:
            size += len(json.dumps(value, default=str))
    return size


def check_state(value: dict[str, Any], what: str) -> dict[str, Any]:
    """``value`` unchanged when it fits the bound, else StateTooLarge naming ``what``."""
    if len(value) > STATE_MAX_KEYS or any(len(key) > STATE_MAX_KEY_CHARS for key in value):
        raise StateTooLarge(
            f"{what} would hold {len(value)} keys; at most {STATE_MAX_KEYS} are kept, each name "
            f"at most {STATE_MAX_KEY_CHARS} characters.",
            max_keys=STATE_MAX_KEYS,
            max_bytes=STATE_MAX_BYTES,
        )
    size = state_size(value)
    if size > STATE_MAX_BYTES:
        raise StateTooLarge(
            f"{what} would take {size} bytes as JSON; at most {STATE_MAX_BYTES} are kept.",
            max_keys=STATE_MAX_KEYS,
            max_bytes=STATE_MAX_BYTES,
        )
    return value


@dataclass(frozen=True)
class StorageLimits:
    """How much one conversation or user may make the registry store (0: no cap)."""

    messages_per_conversation: int = 1000
    # Each message is bounded (4,000 characters, a 64 KiB action), 1,000 of them were not:
    # ~64 MB per conversation. Once its messages hold this much, it takes no new turn.
    bytes_per_conversation: int = 4 * 1024 * 1024
    events_per_conversation: int = 50
    conversations_per_user: int = 1000
    leads_per_conversation: int = 10

    def check_bytes(self, held: int) -> None:
        """LimitReached when a conversation's messages already take ``held`` bytes of the cap."""
        cap = self.bytes_per_conversation
        if cap and held >= cap:
            raise LimitReached(
                f"The conversation's messages take {held} bytes; at most {cap} are kept "
                "(start a new conversation).",
                limit=cap,
                unit="bytes",
            )

    def check(self, count: int, cap: int, what: str) -> None:
        """LimitReached when ``count`` rows already fill ``cap`` (``what`` names them)."""
        if cap and count >= cap:
            raise LimitReached(f"{what}: at most {cap}.", limit=cap)
