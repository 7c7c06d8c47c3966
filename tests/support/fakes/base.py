"""What the providers' wire-protocol stand-ins share: a threaded HTTP server on a free
127.0.0.1 port for the length of a ``with`` block, the requests it received, scripted failures
and the JSON, SSE and NDJSON writers.

A fake subclasses ``FakeServer`` (its state, its URL) and ``FakeHandler`` (its protocol)::

    class _Handler(FakeHandler):
        paths = re.compile(r"^/v1/messages")

        def answer(self, body, route): self.send_json(200, {...})
        def error(self, status, message): return {"error": {"message": message}}
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received (header names lower-cased; ``at``: time.monotonic())."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class _LoopbackHTTPServer(ThreadingHTTPServer):
    # Handler threads are joined on close (block_on_close), so none outlives the server.
    daemon_threads = False
    block_on_close = True

    def __init__(self, handler: type[FakeHandler], fake: FakeServer) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.fake = fake  # handlers reach their fake's state as ``self.server.fake``
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up (timeouts, server stop); print anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeServer:
    """A provider's stand-in on a free port of 127.0.0.1; use as a context manager.

    ``reply`` is the answer. Failures are scripted three ways: ``failures`` (statuses sent to the
    next requests, one each), ``fail_status`` (sent to every request, or to the first
    ``fail_times`` ones). ``retry_after`` adds that ``Retry-After`` header to failures;
    ``delay_s`` answers late.
    """

    handler: ClassVar[type[FakeHandler]]

    def __init__(self, reply: str = "This is a fake reply.") -> None:
        self.reply = reply
        self.failures: list[int] = []
        self.fail_status: int | None = None
        self.fail_times: int | None = None
        self.retry_after: str | None = None
        self.delay_s: float = 0.0
        self.stopping = threading.Event()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: _LoopbackHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._server is None:
            raise RuntimeError("server is not running")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        """Forget the requests received so far."""
        with self._lock:
            self._requests.clear()

    def record(self, request: RecordedRequest) -> int:
        """Keep ``request``; how many have come so far."""
        with self._lock:
            self._requests.append(request)
            return len(self._requests)

    def next_failure(self, number: int) -> int | None:
        """The HTTP status request number ``number`` (from 1) fails with, or None."""
        with self._lock:
            if self.failures:
                return self.failures.pop(0)
        if self.fail_status is None or (self.fail_times is not None and number > self.fail_times):
            return None
        return self.fail_status

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._server = _LoopbackHTTPServer(self.handler, self)
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class FakeHandler(BaseHTTPRequestHandler):
    """One request to a fake: recorded, then 404 off ``paths``, a scripted failure, or
    ``answer``. Subclasses speak the protocol: ``paths``, ``answer``, ``error``."""

    protocol_version = "HTTP/1.1"
    server: _LoopbackHTTPServer
    paths: ClassVar[re.Pattern[str]]  # the paths the protocol serves (query string included)

    @property
    def fake(self) -> Any:
        """The ``FakeServer`` (subclass) this request came to."""
        return self.server.fake

    def answer(self, body: Any, route: re.Match[str]) -> None:
        """Answer a request that neither missed ``paths`` nor was scripted to fail."""
        raise NotImplementedError

    def error(self, status: int, message: str) -> dict[str, Any]:
        """The protocol's error body."""
        raise NotImplementedError

    def refusal(self, status: int) -> str:
        """The message of a scripted failure. Real providers echo (part of) the key they got;
        the client must not leak it."""
        return f"Refused for key {self.presented_key()}."

    def refuse(self, status: int) -> None:
        """Answer a scripted failure."""
        self.send_json(status, self.error(status, self.refusal(status)), self.retry_headers())

    def presented_key(self) -> str:
        """The API key the client sent, in whichever header its protocol uses."""
        for header in ("x-api-key", "x-goog-api-key"):
            if key := self.headers.get(header):
                return key
        return self.headers.get("authorization", "").removeprefix("Bearer ")

    def retry_headers(self) -> dict[str, str]:
        """Headers of a failure: ``Retry-After`` when scripted, and ``retry-after-ms: 1``,
        which tells the openai and anthropic clients to retry at once, so tests stay fast."""
        headers = {"retry-after-ms": "1"}
        if self.fake.retry_after is not None:
            headers["Retry-After"] = self.fake.retry_after
        return headers

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
        self._handle(None)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self._handle(body)

    def _handle(self, body: Any) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake = self.fake
        number = fake.record(
            RecordedRequest(self.command, self.path, headers, body, time.monotonic())
        )
        if fake.delay_s and fake.stopping.wait(fake.delay_s):
            return
        route = self.paths.match(self.path) if self.command == "POST" else None
        if route is None:
            self.send_json(404, self.error(404, f"Unknown path {self.path}"))
        elif (status := fake.next_failure(number)) is not None:
            self.refuse(status)
        else:
            self.answer(body, route)

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """A JSON answer."""
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def send_ndjson(self, lines: Iterable[Any], kind: str = "application/x-ndjson") -> None:
        """A 200 answer of one JSON document per line."""
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self._send(200, data, kind)

    def send_sse(
        self,
        events: Iterable[Any | tuple[str, Any]],
        *,
        chunked: bool = False,
        line_end: str = "\n",
    ) -> None:
        """A 200 stream of server-sent events: each ``data`` (JSON-encoded unless a str), or
        ``(event name, data)``. ``chunked`` keeps the connection open after the stream (chunked
        transfer encoding), else it is closed at the end."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            for event in events:
                name, data = event if isinstance(event, tuple) else (None, event)
                text = data if isinstance(data, str) else json.dumps(data)
                lines = ([f"event: {name}"] if name else []) + [f"data: {text}"]
                encoded = (line_end.join(lines) + line_end * 2).encode()
                if chunked:
                    encoded = f"{len(encoded):x}\r\n".encode() + encoded + b"\r\n"
                self.wfile.write(encoded)
                self.wfile.flush()
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            # Clients may hang up once they have read the last event, before the stream ends.
            self.close_connection = True

    def _send(
        self, status: int, data: bytes, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
