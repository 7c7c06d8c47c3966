"""Free-form JSON objects a client may store (conversation variables, lead attributes): bounded
in keys, key length and serialised size."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# Free-form objects (conversation variables, profile attributes) are stored as given.
FREE_FORM_MAX_KEYS = 100

FREE_FORM_MAX_BYTES = 64 * 1024


def _small_enough(value: dict[str, Any]) -> dict[str, Any]:
    if any(len(key) > 200 for key in value):
        raise ValueError("keys are at most 200 characters")
    if len(json.dumps(value, default=str)) > FREE_FORM_MAX_BYTES:
        raise ValueError(f"at most {FREE_FORM_MAX_BYTES} bytes as JSON")
    return value


# A free-form JSON object a client may store: bounded in keys and serialised size.
FreeFormObject = Annotated[
    dict[str, Any], Field(max_length=FREE_FORM_MAX_KEYS), AfterValidator(_small_enough)
]
