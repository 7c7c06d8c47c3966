"""Rate limits kept in Redis are shared between processes: two apps, one allowance.

The Redis server is a real ``redis-server`` on 127.0.0.1 (``tests.support.redis_server``),
reached through the same `limits` storage URI a deployment would set.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import make_settings

pytest_plugins = ["tests.support.redis_server"]


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
