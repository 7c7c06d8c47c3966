"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions wire protocol.

Remote providers cannot run here, so tests point the real client library at this server instead::

    with FakeOpenAIServer(reply="Paris.") as server:
        model = OpenAICompatibleModel("gpt-test", server.base_url, api_key="sk-test")
        ...
        assert server.requests[0].body["messages"][0]["role"] == "system"
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received (header names lower-cased)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Server(ThreadingHTTPServer):
    # Handler threads are joined on close (block_on_close), so none outlives the server.
    daemon_threads = False
    block_on_close = True

    def __init__(self, fake: FakeOpenAIServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up (timeouts, server stop); print anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self) -> None:
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        self._record(None)
        self._send_json(404, _error_body("Not found", "invalid_request_error", None))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self._record(body)
        fake = self.server.fake
        if fake.delay_s and fake.stopping.wait(fake.delay_s):
            return
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, _error_body(f"Unknown path {self.path}", "invalid_request_error"))
        elif fake.fail_status is not None:
            self._send_error(fake.fail_status)
        elif not isinstance(body, dict) or "messages" not in body:
            self._send_json(400, _error_body("'messages' is required", "invalid_request_error"))
        elif fake.refuse_stream_options and "stream_options" in body:
            message = "Unrecognized request argument supplied: stream_options"
            self._send_json(400, _error_body(message, "invalid_request_error"))
        elif body.get("stream"):
            self._send_stream(body)
        else:
            completion = _completion(body, fake.reply)
            if fake.send_usage:
                completion["usage"] = _usage(body, fake.reply)
            self._send_json(200, completion)

    def _record(self, body: Any) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.fake._record(RecordedRequest(self.command, self.path, headers, body))

    def _send_json(self, status: int, payload: dict[str, Any], **headers: str) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(data)

    def _send_error(self, status: int) -> None:
        if status == 401:
            # Real providers echo (part of) the key they were given; the client must not leak it.
            key = self.headers.get("authorization", "").removeprefix("Bearer ")
            payload = _error_body(
                f"Incorrect API key provided: {key}.", "invalid_request_error", "invalid_api_key"
            )
        elif status == 429:
            payload = _error_body("Rate limit reached.", "requests", "rate_limit_exceeded")
        else:
            payload = _error_body(
                "The server had an error processing your request.", "server_error"
            )
        # Tells the client library to retry at once, so retry tests stay fast.
        self._send_json(status, payload, retry_after_ms=str(self.server.fake.retry_after_ms))

    def _send_stream(self, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for event in _stream_events(body, self.server.fake.reply, self.server.fake.send_usage):
                data = f"data: {event}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # Clients may hang up once they have read [DONE], before the closing chunk.
            self.close_connection = True


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


class FakeOpenAIServer:
    """An OpenAI-compatible chat-completions server on a free port of 127.0.0.1.

    Set ``reply`` to choose the answer, ``fail_status`` to answer every request with that HTTP
    error (an OpenAI-style error body), ``delay_s`` to answer late, ``send_usage = False`` to leave
    token counts out (as some servers do), ``refuse_stream_options`` to answer 400 to requests
    carrying ``stream_options`` (as older compatible servers do). Use as a context manager.
    """

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        self.reply = reply
        self.fail_status: int | None = None
        self.delay_s: float = 0.0
        self.send_usage = True
        self.refuse_stream_options = False
        self.retry_after_ms: int = 1
        self.stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("server is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """The URL an OpenAI client takes as ``base_url`` (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def start(self) -> FakeOpenAIServer:
        """Start serving in a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, drop open client connections and join every server thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self.stopping.set()
        server.shutdown()
        # Keep-alive connections would otherwise hold their handler threads until the client
        # closes them.
        with server.sockets_lock:
            for sock in server.open_sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
