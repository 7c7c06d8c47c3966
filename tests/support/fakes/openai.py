"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions wire protocol.

Remote providers cannot run here, so tests point the real client library at this server instead::

    with FakeOpenAIServer(reply="Paris.") as server:
        model = OpenAICompatibleModel("gpt-test", server.base_url, api_key="sk-test")
        ...
        assert server.requests[0].body["messages"][0]["role"] == "system"
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from tests.support.fakes.base import FakeHandler, FakeServer


class _Handler(FakeHandler):
    paths = re.compile(r"^/v1/chat/completions/?(\?|$)")

    def answer(self, body: Any, route: re.Match[str]) -> None:
        fake = self.fake
        if not isinstance(body, dict) or "messages" not in body:
            self.send_json(400, self.error(400, "'messages' is required"))
        elif fake.refuse_stream_options and "stream_options" in body:
            message = "Unrecognized request argument supplied: stream_options"
            self.send_json(400, self.error(400, message))
        elif body.get("stream"):
            self.send_sse(_stream_events(body, fake.reply, fake.send_usage), chunked=True)
        else:
            completion = _completion(body, fake.reply)
            if fake.send_usage:
                completion["usage"] = _usage(body, fake.reply)
            self.send_json(200, completion)

    def error(self, status: int, message: str) -> dict[str, Any]:
        return _error_body(message, "invalid_request_error")

    def refuse(self, status: int) -> None:
        if status == 401:
            message = f"Incorrect API key provided: {self.presented_key()}."
            payload = _error_body(message, "invalid_request_error", "invalid_api_key")
        elif status == 429:
            payload = _error_body("Rate limit reached.", "requests", "rate_limit_exceeded")
        else:
            message = "The server had an error processing your request."
            payload = _error_body(message, "server_error")
        self.send_json(status, payload, self.retry_headers())


def _error_body(message: str, type_: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


def _count_tokens(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def _usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    prompt = sum(_count_tokens(str(m.get("content") or "")) for m in body["messages"])
    completion = _count_tokens(reply)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(body: dict[str, Any], reply: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "system_fingerprint": "fp_fake",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply, "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
    }


def _stream_events(body: dict[str, Any], reply: str, send_usage: bool) -> list[str]:
    """The SSE ``data:`` payloads of a streamed completion, ending with ``[DONE]``."""
    base = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "unknown"),
        "system_fingerprint": "fp_fake",
    }

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return json.dumps({**base, "choices": [choice]})

    pieces = [word + " " for word in reply.split(" ")]
    pieces[-1] = pieces[-1][:-1]
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": piece}) for piece in pieces if piece]
    events.append(chunk({}, finish_reason="stop"))
    if send_usage and (body.get("stream_options") or {}).get("include_usage"):
        events.append(json.dumps({**base, "choices": [], "usage": _usage(body, reply)}))
    events.append("[DONE]")
    return events


class FakeOpenAIServer(FakeServer):
    """An OpenAI-compatible chat-completions server on a free port of 127.0.0.1.

    Set ``reply`` to choose the answer, script failures as ``FakeServer`` says (an OpenAI-style
    error body), ``send_usage = False`` to leave token counts out (as some servers do),
    ``refuse_stream_options`` to answer 400 to requests carrying ``stream_options`` (as older
    compatible servers do). Use as a context manager.
    """

    handler = _Handler

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        super().__init__(reply)
        self.send_usage = True
        self.refuse_stream_options = False

    @property
    def base_url(self) -> str:
        """The URL an OpenAI client takes as ``base_url`` (ends in ``/v1``)."""
        return f"{self.origin}/v1"
