"""A real HTTP server on 127.0.0.1 receiving webhooks: records each request, and can answer
with errors first (``fail_first``) or always (``status``)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request the receiver got, body as raw bytes."""

    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)

    def header(self, name: str) -> str:
        """A header by case-insensitive name ("" when absent)."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), "")


class Receiver:
    """What the server answers and what it has received."""

    def __init__(self) -> None:
        self.url = ""
        self.status = 200
        self.fail_first = 0  # answer 500 to this many requests before ``status``
        self.location: str | None = None  # when set, answer 307 redirecting there
        self.requests: list[Received] = []
        self._lock = threading.Lock()

    def record(self, path: str, headers: dict[str, str], body: bytes) -> int:
        """Remember a request; the status to answer it with."""
        with self._lock:
            status = 500 if self.fail_first > 0 else self.status
            status = 307 if self.location else status
            self.fail_first = max(0, self.fail_first - 1)
            self.requests.append(Received(path, headers, body, status))
            return status

    def received(self, event: str | None = None) -> list[Received]:
        """Requests so far, optionally only those of one event type."""
        with self._lock:
            return [r for r in self.requests if event is None or r.header("X-KB-Event") == event]

    def wait_for(
        self, predicate: Callable[[list[Received]], bool], timeout: float = 30.0
    ) -> list[Received]:
        """Block until ``predicate`` holds for the requests so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen = self.received()
            if predicate(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"the receiver never saw what was expected; got {self.received()}")

    def wait_event(self, event: str, count: int = 1, timeout: float = 30.0) -> list[Received]:
        """Block until ``count`` requests of ``event`` arrived; returns them."""
        self.wait_for(lambda _seen: len(self.received(event)) >= count, timeout)
        return self.received(event)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    receiver: Receiver

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        status = self.receiver.record(self.path, dict(self.headers.items()), body)
        reply = b'{"ok": true}' if status < 300 else b"receiver error " + b"x" * 2000
        self.send_response(status)
        if status == 307 and self.receiver.location:
            self.send_header("Location", self.receiver.location)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


@contextmanager
def serve_receiver() -> Iterator[Receiver]:
    """A receiver on a free port of 127.0.0.1 until the block ends; its URL is ``.url``."""
    receiver = Receiver()
    handler = type("Handler", (_Handler,), {"receiver": receiver})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
