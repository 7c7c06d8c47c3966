"""A real HTTP server on 127.0.0.1 speaking the Gemini REST API (``generateContent``).

The official ``google-genai`` client is pointed at it (``http_options.base_url``)::

    with FakeGeminiServer(reply="Paris.") as server:
        model = GeminiModel("gemini-test", api_key="test-key", base_url=server.base_url)
"""

from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.loopback import LoopbackHTTPServer, LoopbackServer

_PATH = re.compile(
    r"^/v1beta/models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)"
)
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}


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
        match = _PATH.match(self.path)
        if match is None:
            self._json(404, _error(404, "NOT_FOUND", f"Unknown path {self.path}"))
        elif fake.fail_status is not None and (
            fake.fail_times is None or len(fake.requests) <= fake.fail_times
        ):
            # Real providers echo (part of) the key they got; the client must not leak it.
            key = self.headers.get("x-goog-api-key", "")
            status = _STATUS_NAMES.get(fake.fail_status, "UNAVAILABLE")
            error = _error(fake.fail_status, status, f"Bad key {key}.")
            if fake.retry_delay is not None:
                retry_info = {"@type": "type.googleapis.com/google.rpc.RetryInfo"}
                error["error"]["details"] = [retry_info | {"retryDelay": fake.retry_delay}]
            extra = {"Retry-After": fake.retry_after} if fake.retry_after is not None else {}
            self._json(fake.fail_status, error, extra)
        elif match["method"] == "streamGenerateContent":
            if "alt=sse" not in self.path:
                self._json(400, _error(400, "INVALID_ARGUMENT", "only alt=sse is spoken here"))
            else:
                self._stream(body, match["model"], fake.reply)
        else:
            self._json(200, _response(body, match["model"], fake.reply, final=True))

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, body: dict[str, Any], model: str, reply: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        words = reply.split(" ")
        for i, word in enumerate(words):
            chunk = _response(body, model, word + " ", final=i == len(words) - 1)
            if chunk["candidates"][0].get("finishReason"):
                # The usage of the whole reply comes with the last chunk.
                chunk["usageMetadata"] = _usage(body, reply)
            self.wfile.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
            self.wfile.flush()


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _usage(body: dict[str, Any], reply: str) -> dict[str, int]:
    texts = [p["text"] for c in body["contents"] for p in c["parts"]]
    texts += [p["text"] for p in body.get("systemInstruction", {}).get("parts", [])]
    prompt = sum(len(text.split()) for text in texts)
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": len(reply.split()),
        "totalTokenCount": prompt + len(reply.split()),
    }


def _response(body: dict[str, Any], model: str, text: str, final: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    candidate["index"] = 0
    response: dict[str, Any] = {"candidates": [candidate], "modelVersion": model}
    if final:
        candidate["finishReason"] = "STOP"
        response["usageMetadata"] = _usage(body, text)
    return response


class FakeGeminiServer(LoopbackServer):
    """A Gemini API server on a free port; set ``reply`` or ``fail_status``.

    ``fail_times`` limits the failures to the first requests; ``retry_after`` (a header) and
    ``retry_delay`` (a ``RetryInfo`` detail such as ``"1s"``) say when to come back.
    """

    handler = _Handler

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        self.reply = reply
        self.fail_status: int | None = None
        self.fail_times: int | None = None
        self.retry_after: str | None = None
        self.retry_delay: str | None = None
        self.requests: list[dict[str, Any]] = []
        super().__init__()

    @property
    def base_url(self) -> str:
        """What ``google-genai`` takes as ``http_options.base_url`` (it adds ``/v1beta/...``)."""
        return self.origin
