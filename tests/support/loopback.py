"""The lifecycle shared by the providers' wire-protocol stand-ins: a threaded HTTP server on a
free 127.0.0.1 port, running for the length of a ``with`` block."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server on a free 127.0.0.1 port that knows its fake."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], fake: Any) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.fake = fake  # handlers reach their fake's settings as ``self.server.fake``


class LoopbackServer:
    """Base of a fake provider: subclasses set ``handler`` and their own state, then call
    ``super().__init__()``."""

    handler: ClassVar[type[BaseHTTPRequestHandler]]

    def __init__(self) -> None:
        self._server = LoopbackHTTPServer(self.handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
