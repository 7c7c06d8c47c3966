"""A real HTTP server on 127.0.0.1 speaking Mistral's chat-completions wire protocol.

The official ``mistralai`` client is pointed at it (``server_url=server.base_url``)::

    with FakeMistralServer(reply="Paris.") as server:
        model = MistralModel("mistral-test", api_key="test-key", base_url=server.base_url)
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from tests.support.fakes.base import FakeHandler, FakeServer


class _Handler(FakeHandler):
    paths = re.compile(r"^/v1/chat/completions/?(\?|$)")

    def answer(self, body: Any, route: re.Match[str]) -> None:
        if body.get("stream"):
            self.send_sse([*_chunks(body, self.fake.reply), "[DONE]"])
        else:
            self.send_json(200, _completion(body, self.fake.reply))

    def error(self, status: int, message: str) -> dict[str, Any]:
        return {"object": "error", "message": message, "type": "error"}


def _chunks(body: dict[str, Any], reply: str) -> list[dict[str, Any]]:
    """The chunks of a streamed completion: one per word, then the finish reason."""
    base = {"id": uuid.uuid4().hex, "object": "chat.completion.chunk", "model": body["model"]}
    base["created"] = int(time.time())
    chunks = [{**base, "choices": [_delta({"role": "assistant", "content": ""})]}]
    chunks += [{**base, "choices": [_delta({"content": word + " "})]} for word in reply.split(" ")]
    # Mistral sends the usage with the finish reason, on the last chunk.
    last = {**base, "choices": [_delta({"content": ""}, "stop")]}
    last["usage"] = _usage(body, reply)
    return [*chunks, last]


def _delta(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish_reason}


def _usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    prompt = sum(len(str(m["content"]).split()) for m in body["messages"])
    completion = len(reply.split())
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(body: dict[str, Any], reply: str) -> dict[str, Any]:
    return {
        "id": uuid.uuid4().hex,
        "object": "chat.completion",
        "model": body["model"],
        "created": int(time.time()),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "tool_calls": None},
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(body, reply),
    }


class FakeMistralServer(FakeServer):
    """A Mistral chat API server on a free port; set ``reply`` or script failures
    (``FakeServer``)."""

    handler = _Handler

    @property
    def base_url(self) -> str:
        """What the ``mistralai`` client takes as ``server_url`` (it adds ``/v1/...``)."""
        return self.origin
