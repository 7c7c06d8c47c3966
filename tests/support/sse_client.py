"""A small Server-Sent Events reader for tests that stream over a real HTTP connection."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    """One SSE message: its ``event`` name (``message`` when unnamed) and JSON data."""

    name: str
    data: Any


def read_events(response: httpx.Response) -> Iterator[Event]:
    """The events of a streaming response, as they arrive."""
    name, data = "message", []
    for line in response.iter_lines():
        if not line:
            if data:
                text = "\n".join(data)
                yield Event(name, text if text == "[DONE]" else json.loads(text))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())
