"""A real HTTP server on 127.0.0.1 speaking Mistral's chat-completions wire protocol.

The official ``mistralai`` client is pointed at it (``server_url=server.base_url``)::

    with FakeMistralServer(reply="Paris.") as server:
        model = MistralModel("mistral-test", api_key="test-key", base_url=server.base_url)
"""

from __future__ import annotations

import json
import time
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
        fake.requests.append(
            {"path": self.path, "headers": headers, "body": body, "at": time.monotonic()}
        )
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._json(404, {"detail": "Not Found"})
        elif fake.fail_status is not None and (
            fake.fail_times is None or len(fake.requests) <= fake.fail_times
        ):
            # Real providers echo (part of) the key they got; the client must not leak it.
            key = self.headers.get("authorization", "").removeprefix("Bearer ")
            message = {"object": "error", "message": f"Refused for key {key}.", "type": "error"}
            extra = {"Retry-After": fake.retry_after} if fake.retry_after is not None else {}
            self._json(fake.fail_status, message, extra)
        elif body.get("stream"):
            self._stream(body, fake.reply)
        else:
            self._json(200, _completion(body, fake.reply))

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict[str, Any], reply: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        words = reply.split(" ")
        base = {"id": uuid.uuid4().hex, "object": "chat.completion.chunk", "model": body["model"]}
        base["created"] = int(time.time())
        chunks = [{**base, "choices": [_delta({"role": "assistant", "content": ""})]}]
        chunks += [{**base, "choices": [_delta({"content": word + " "})]} for word in words]
        # Mistral sends the usage with the finish reason, on the last chunk.
        last = {**base, "choices": [_delta({"content": ""}, "stop")]}
        last["usage"] = _usage(body, reply)
        chunks.append(last)
        for chunk in chunks:
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


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


class FakeMistralServer(LoopbackServer):
    """A Mistral chat API server on a free port; set ``reply`` or ``fail_status``
    (``fail_times``: only the first requests fail; ``retry_after``: the header they carry)."""

    handler = _Handler

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        self.reply = reply
        self.fail_status: int | None = None
        self.fail_times: int | None = None
        self.retry_after: str | None = None
        self.requests: list[dict[str, Any]] = []
        super().__init__()

    @property
    def base_url(self) -> str:
        """What the ``mistralai`` client takes as ``server_url`` (it adds ``/v1/...``)."""
        return self.origin
