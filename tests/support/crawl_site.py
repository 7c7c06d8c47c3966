"""A real HTTP server on 127.0.0.1 serving a site the test writes, recording every request."""

from __future__ import annotations

import contextlib
import hashlib
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Resource:
    """What the server answers for one path."""

    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    etag: bool = True  # answer If-None-Match with 304 when the body is the same
    last_modified: str | None = None  # answer If-Modified-Since with 304 when it matches
    stream: bool = False  # send no Content-Length: the length is only known by reading
    gate: threading.Event | None = None  # answer only once the test sets it (30 s at most)


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    at: float


class FixtureSite:
    """Pages by path; ``requests`` lists what was asked, in order."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self.base = ""

    def html(self, path: str, body: str, title: str = "Page", **extra: object) -> None:
        """Serve an HTML page with ``body`` inside <main>, and site chrome around it."""
        page = (
            f"<!doctype html><html><head><title>{title}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
            f"<main>{body}</main><footer>Copyright Example Corp</footer></body></html>"
        )
        self.resources[path] = Resource(page.encode(), **extra)  # type: ignore[arg-type]

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        """Answer ``path`` with a redirect."""
        self.resources[path] = Resource(status=status, headers={"Location": location})

    def paths(self) -> list[str]:
        """Paths requested so far, in order."""
        with self._lock:
            return [seen.path for seen in self.requests]

    def record(self, seen: Seen) -> None:
        """Remember a request."""
        with self._lock:
            self.requests.append(seen)

    def clear(self) -> None:
        """Forget recorded requests."""
        with self._lock:
            self.requests.clear()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real sites do
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    site: FixtureSite

    def log_message(self, format: str, *args: object) -> None:
        pass

    def handle(self) -> None:
        # The crawler closing a kept-alive connection is normal, not an error to print.
        with contextlib.suppress(ConnectionResetError):
            super().handle()

    def do_GET(self) -> None:
        self.site.record(Seen(self.path, dict(self.headers.items()), time.monotonic()))
        resource = self.site.resources.get(self.path)
        if resource is None:
            self._send(404, b"<h1>Not found</h1>", {"Content-Type": "text/html"})
            return
        if resource.gate is not None:
            resource.gate.wait(timeout=30)
        headers = {"Content-Type": resource.content_type, **resource.headers}
        if resource.etag and resource.status == 200:
            headers["ETag"] = '"' + hashlib.sha1(resource.body).hexdigest() + '"'
            if self.headers.get("If-None-Match") == headers["ETag"]:
                self._send(304, b"", headers)
                return
        if resource.last_modified:
            headers["Last-Modified"] = resource.last_modified
            if self.headers.get("If-Modified-Since") == resource.last_modified:
                self._send(304, b"", headers)
                return
        self._send(resource.status, resource.body, headers, stream=resource.stream)

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], stream: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if stream:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for start in range(0, len(body), 64 * 1024):
                self.wfile.write(body[start : start + 64 * 1024])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler stopped reading (byte cap): expected


@contextmanager
def serve(site: FixtureSite, tls: ssl.SSLContext | None = None) -> Iterator[FixtureSite]:
    """Serve ``site`` on a free port of 127.0.0.1 until the block ends; over HTTPS with the
    server context ``tls`` (then the base URL names ``localhost``, for its certificate)."""
    handler = type("Handler", (_Handler,), {"site": site})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
        site.base = f"https://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
