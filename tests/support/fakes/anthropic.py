"""A real HTTP server on 127.0.0.1 speaking Anthropic's Messages API wire protocol.

The official ``anthropic`` client is pointed at it (``base_url=server.base_url``)::

    with FakeAnthropicServer(reply="Paris.") as server:
        model = AnthropicModel("claude-test", api_key="sk-ant-test", base_url=server.base_url)
"""

from __future__ import annotations

import json
import uuid
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackHTTPServer, LoopbackServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        fake = self.server.fake
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake.requests.append({"headers": headers, "body": body})
        if self.path.rstrip("/") != "/v1/messages":
            self._json(404, _error("not_found_error", f"Unknown path {self.path}"))
        elif fake.fail_status is not None:
            # Real providers echo (part of) the key they got; the client must not leak it.
            auth = self.headers.get("authorization", "").removeprefix("Bearer ")
            key = self.headers.get("x-api-key", auth)
            self._json(fake.fail_status, _error("api_error", f"Refused for key {key}."))
        elif body.get("stream"):
            self._stream(body, fake.reply)
        else:
            self._json(200, _message(body, fake.reply, [{"type": "text", "text": fake.reply}]))

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("retry-after-ms", "1")  # retries stay fast
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict[str, Any], reply: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        start = _message(body, reply, [])
        start["usage"]["output_tokens"] = 1
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start}),
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": 0,
                    "content_block": {"type": "text", "text": ""},
                },
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
        for name, data in events:
            self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
            self.wfile.flush()


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


class FakeAnthropicServer(LoopbackServer):
    """A Messages API server on a free port; set ``reply`` or ``fail_status``."""

    handler = _Handler

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        self.reply = reply
        self.fail_status: int | None = None
        self.requests: list[dict[str, Any]] = []
        super().__init__()

    @property
    def base_url(self) -> str:
        """What the ``anthropic`` client takes as ``base_url`` (it adds ``/v1/messages``)."""
        return self.origin
