"""A real HTTP server on 127.0.0.1 speaking Anthropic's Messages API wire protocol.

The official ``anthropic`` client is pointed at it (``base_url=server.base_url``)::

    with FakeAnthropicServer(reply="Paris.") as server:
        model = AnthropicModel("claude-test", api_key="sk-ant-test", base_url=server.base_url)
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from tests.support.fakes.base import FakeHandler, FakeServer


class _Handler(FakeHandler):
    paths = re.compile(r"^/v1/messages/?(\?|$)")

    def answer(self, body: Any, route: re.Match[str]) -> None:
        reply = self.fake.reply
        if body.get("stream"):
            self.send_sse(_stream_events(body, reply))
        else:
            self.send_json(200, _message(body, reply, [{"type": "text", "text": reply}]))

    def error(self, status: int, message: str) -> dict[str, Any]:
        return _error("not_found_error" if status == 404 else "api_error", message)


def _stream_events(body: dict[str, Any], reply: str) -> list[tuple[str, dict[str, Any]]]:
    """The named events of a streamed message: start, one delta per word, stop."""
    start = _message(body, reply, [])
    start["usage"]["output_tokens"] = 1
    block = {"type": "text", "text": ""}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        ),
        ("ping", {"type": "ping"}),
    ]
    for word in reply.split(" "):
        delta = {"type": "text_delta", "text": word + " "}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": len(reply.split())},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events


def _error(type_: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type_, "message": message}}


def _message(body: dict[str, Any], reply: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    prompt_words = sum(len(str(m["content"]).split()) for m in body["messages"])
    prompt_words += len(str(body.get("system", "")).split())
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_words, "output_tokens": len(reply.split())},
    }


class FakeAnthropicServer(FakeServer):
    """A Messages API server on a free port; set ``reply`` or script failures (``FakeServer``)."""

    handler = _Handler

    @property
    def base_url(self) -> str:
        """What the ``anthropic`` client takes as ``base_url`` (it adds ``/v1/messages``)."""
        return self.origin
