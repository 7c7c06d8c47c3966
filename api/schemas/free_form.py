"""Free-form JSON objects a client may send (conversation variables, profile attributes): the
request's shape is bounded here in keys, key length and serialised size, with the same bounds
``kb.db.bounds`` holds every stored object to (after merges, whatever the route)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from kb.db.bounds import STATE_MAX_BYTES, STATE_MAX_KEY_CHARS, STATE_MAX_KEYS, state_size


def _small_enough(value: dict[str, Any]) -> dict[str, Any]:
    if any(len(key) > STATE_MAX_KEY_CHARS for key in value):
        raise ValueError(f"keys are at most {STATE_MAX_KEY_CHARS} characters")
    if state_size(value) > STATE_MAX_BYTES:
        raise ValueError(f"at most {STATE_MAX_BYTES} bytes as JSON")
    return value


# A free-form JSON object a client may store: bounded in keys and serialised size.
FreeFormObject = Annotated[
    dict[str, Any], Field(max_length=STATE_MAX_KEYS), AfterValidator(_small_enough)
]
