"""Rate limits kept in Redis are shared between processes: two apps, one allowance.

The Redis server is fakeredis's TCP server (it speaks the Redis wire protocol) on 127.0.0.1,
reached through the same `limits` storage URI a deployment would set.
"""

from __future__ import annotations

import selectors
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from fakeredis import TcpFakeServer
from fakeredis._clients import _tcp_server
from fakeredis._clients._tcp_server import TCPFakeRequestHandler
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import free_port, make_settings


class _KeepOpenOnErrors(TCPFakeRequestHandler):
    """fakeredis 2.40's TCP server closes the connection after any error reply, where a real
    Redis answers and carries on. redis-py relies on that for Lua scripts: EVALSHA answers
    NOSCRIPT on first use, then the client sends SCRIPT LOAD on the same connection; `limits`'
    moving window is such a script, so without this every first hit failed."""

    def setup(self) -> None:
        super().setup()
        read = self.current_client.read_response

        def read_response(**kwargs: Any) -> Any:
            try:
                return read(**kwargs)
            except redis.ResponseError as error:
                return error  # written back as an error reply, like Redis does

        self.current_client.read_response = read_response  # type: ignore[method-assign]


def _select_any_fd(
    readable: list[Any], _writable: list[Any], _exceptional: list[Any], timeout: float
) -> tuple[list[Any], list[Any], list[Any]]:
    """``select.select`` for readable sockets without its FD_SETSIZE ceiling: in a long test
    session the server's sockets get descriptors above 1024, where select() fails."""
    with selectors.DefaultSelector() as selector:
        for sock in readable:
            selector.register(sock, selectors.EVENT_READ)
        return [key.fileobj for key, _events in selector.select(timeout)], [], []


@pytest.fixture
def redis_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A Redis-protocol server on 127.0.0.1 for this test, stopped afterwards."""
    monkeypatch.setattr(_tcp_server, "select", SimpleNamespace(select=_select_any_fd))
    port = free_port()
    server = TcpFakeServer(("127.0.0.1", port), server_type="redis")
    server.RequestHandlerClass = _KeepOpenOnErrors
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_two_apps_share_one_allowance_through_redis(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, redis_url: str
) -> None:
    containers = [
        build_container(
            make_settings(
                tmp_path / name,
                security__rate_limit="3/minute",
                security__rate_limit_storage=redis_url,
            ),
            embedder=embedder,
        )
        for name in ("one", "two")
    ]
    first, second = (TestClient(create_app(c)) for c in containers)
    with first, second:
        # Unauthenticated requests count against the client address, in both processes.
        remaining = [first.get("/v1/kbs").headers["ratelimit-remaining"] for _ in range(2)]
        assert remaining == ["2", "1"]
        last = second.get("/v1/kbs")
        assert last.status_code == 401 and last.headers["ratelimit-remaining"] == "0"
        over = second.get("/v1/kbs")
        assert over.status_code == 429 and over.json()["code"] == "rate_limited"
        assert 0 < int(over.headers["retry-after"]) <= 60
        assert over.headers["ratelimit-limit"] == "3"
        assert first.get("/v1/kbs").status_code == 429
    for container in containers:
        container.close()
