"""A real HTTP server on 127.0.0.1 speaking Ollama's ``/api/chat`` protocol (NDJSON streams).

The official ``ollama`` client is pointed at it (``host=server.host``).
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackHTTPServer, LoopbackServer

_CREATED = "2026-01-01T00:00:00Z"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        fake = self.server.fake
        fake.requests.append(body)
        fake.times.append(time.monotonic())
        if self.path != "/api/chat":
            self._send(404, [{"error": f"unknown path {self.path}"}])
        elif fake.failures:
            status = fake.failures.pop(0)
            hint = {"Retry-After": fake.retry_after} if fake.retry_after else {}
            self._send(status, [{"error": f"server busy ({status})"}], headers=hint)
        elif body.get("stream", True):
            words = fake.reply.split(" ")
            lines = [_chunk(body, w + " ", done=False) for w in words]
            self._send(200, [*lines, _final(body, "", fake.reply)], "application/x-ndjson")
        else:
            self._send(200, [_final(body, fake.reply, fake.reply)])

    def _send(
        self,
        status: int,
        lines: list[dict[str, Any]],
        kind: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


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


class FakeOllamaServer(LoopbackServer):
    """An Ollama server on a free port; set ``reply``, or queue HTTP error ``failures`` (sent
    with ``Retry-After: retry_after`` when set)."""

    handler = _Handler

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        self.reply = reply
        self.failures: list[int] = []
        self.retry_after: str | None = None
        self.requests: list[dict[str, Any]] = []
        self.times: list[float] = []  # when each request came
        super().__init__()

    @property
    def host(self) -> str:
        """What the ``ollama`` client takes as ``host``."""
        return self.origin
