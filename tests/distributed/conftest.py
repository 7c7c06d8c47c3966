"""The distributed suite's topology, started once per session: PostgreSQL, redis-server and a
Chroma server on 127.0.0.1, two API replicas and two workers against them.

Run alone with ``pytest tests/distributed -s`` (or ``-m distributed``; ``-s`` shows the kill
test's status and counts before and after the kill); skipped, with the reason,
where PostgreSQL, redis-server or the chroma command is missing (``.ci/run`` installs them).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.conftest import MODEL_CACHE
from tests.distributed.cluster import Cluster, Process
from tests.support.chroma_server import ChromaServer, chroma_server  # noqa: F401
from tests.support.postgres_server import PostgresServer, postgres_server  # noqa: F401
from tests.support.redis_server import redis_server  # noqa: F401

# Rate limits are counted per publishable key over both replicas (test_replicas.py).
PUBLISHABLE_LIMIT = 12


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``distributed``."""
    for item in items:
        if "tests/distributed/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.distributed)


@dataclass
class Topology:
    """The running cluster: two replicas, two workers, an admin key and the database URL."""

    cluster: Cluster
    api_a: Process
    api_b: Process
    workers: list[Process]
    admin: dict[str, str]
    database_url: str


def _env(database_url: str, redis_url: str, chroma: ChromaServer) -> dict[str, str]:
    return {
        "KB_STORAGE__DATABASE_URL": database_url,
        "KB_STORE__CHROMA_HOST": chroma.host,
        "KB_STORE__CHROMA_PORT": str(chroma.port),
        "KB_JOBS__BROKER_URL": f"{redis_url}/0",
        # Short leases, so a killed worker's job moves on within seconds.
        "KB_JOBS__LEASE_S": "4",
        "KB_JOBS__HEARTBEAT_S": "0.5",
        "KB_JOBS__SWEEP_INTERVAL_S": "1",
        "KB_JOBS__OUTBOX_DRAIN_S": "0.3",
        "KB_SECURITY__RATE_LIMIT": "",
        "KB_SECURITY__PUBLISHABLE_RATE_LIMIT": f"{PUBLISHABLE_LIMIT}/minute",
        "KB_SECURITY__RATE_LIMIT_STORAGE": f"{redis_url}/1",
        "KB_SECURITY__TOKEN_SIGNING_KEY": secrets.token_urlsafe(48),
        "KB_SECURITY__ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "KB_CRAWL__ALLOWED_HOSTS": '["127.0.0.1"]',
        "KB_WEBHOOK__ALLOWED_HOSTS": '["127.0.0.1"]',
        "KB_WEBHOOK__BASE_DELAY_S": "0.5",
        "KB_WEBHOOK__TIMEOUT_S": "2",
        "KB_EMBEDDING__MODEL": "bundled:all-MiniLM-L6-v2",
        "KB_EMBEDDING__CACHE_DIR": str(MODEL_CACHE),
        "KB_LOG__FORMAT": "text",
        "KB_LOG__ACCESS_LOG": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@pytest.fixture(scope="session")
def topology(
    postgres_server: PostgresServer,  # noqa: F811
    redis_server: str,  # noqa: F811
    chroma_server: ChromaServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Topology]:
    """Two API replicas and two workers on the session's servers (started in parallel)."""
    database_url = postgres_server.create_database("dist")
    workdir: Path = tmp_path_factory.mktemp("cluster")
    cluster = Cluster(_env(database_url, redis_server, chroma_server), workdir)
    try:
        cluster.run("migrate")
        secret = cluster.run("keys", "create", "--scope", "admin", "--name", "suite").strip()
        # One process first: tables not yet covered by a migration revision are created by
        # the repositories on start, and two processes creating one table at once collide.
        api_a = cluster.wait_api(cluster.start_api("api-a"))
        api_b = cluster.start_api("api-b")
        workers = [cluster.start_worker("worker-1"), cluster.start_worker("worker-2")]
        cluster.wait_api(api_b)
        for worker in workers:
            cluster.wait_worker(worker)
        yield Topology(
            cluster,
            api_a,
            api_b,
            workers,
            {"Authorization": f"Bearer {secret.splitlines()[-1]}"},
            database_url,
        )
    finally:
        cluster.stop_all()
        print(f"[cluster] each process's log: {workdir}/<name>.log")
        postgres_server.drop_database(database_url)
