"""A real HTTP server on 127.0.0.1 speaking Ollama's ``/api/chat`` protocol (NDJSON streams).

The official ``ollama`` client is pointed at it (``host=server.host``).
"""

from __future__ import annotations

import re
from typing import Any

from tests.support.fakes.base import FakeHandler, FakeServer

_CREATED = "2026-01-01T00:00:00Z"


class _Handler(FakeHandler):
    paths = re.compile(r"^/api/chat$")

    def answer(self, body: Any, route: re.Match[str]) -> None:
        reply = self.fake.reply
        if body.get("stream", True):
            lines = [_chunk(body, word + " ", done=False) for word in reply.split(" ")]
            self.send_ndjson([*lines, _final(body, "", reply)])
        else:
            self.send_json(200, _final(body, reply, reply))

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"error": message}

    def refusal(self, status: int) -> str:
        return f"server busy ({status})"


def _chunk(body: dict[str, Any], content: str, done: bool) -> dict[str, Any]:
    return {
        "model": body["model"],
        "created_at": _CREATED,
        "message": {"role": "assistant", "content": content},
        "done": done,
    }


def _final(body: dict[str, Any], content: str, reply: str) -> dict[str, Any]:
    prompt_words = sum(len(m["content"].split()) for m in body["messages"])
    return {
        **_chunk(body, content, done=True),
        "done_reason": "stop",
        "total_duration": 1000,
        "prompt_eval_count": prompt_words,
        "eval_count": len(reply.split()),
    }


class FakeOllamaServer(FakeServer):
    """An Ollama server on a free port; set ``reply`` or script failures (``FakeServer``)."""

    handler = _Handler

    @property
    def host(self) -> str:
        """What the ``ollama`` client takes as ``host``."""
        return self.origin
