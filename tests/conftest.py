"""Shared fixtures: real settings on a temp dir, the real bundled embedding model, real servers."""

from __future__ import annotations

import os

# Tests never reach a model hub: a missing model must fail fast, not download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# The suite embeds with MiniLM (half the layers of the default multilingual-e5-small, and the
# model the claim checks were calibrated with); the tests of E5 and of per-KB models name it.
# Set in the environment so that subprocesses and Settings() built in tests see it too.
os.environ.setdefault("KB_EMBEDDING__MODEL", "bundled:all-MiniLM-L6-v2")
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
# The bundled model is extracted once per checkout, not once per test.
MODEL_CACHE = Path(os.environ.get("KB_TEST_MODEL_CACHE", REPO / "data" / "models"))


@pytest.fixture(scope="session")
def embedder() -> SentenceTransformerEmbedder:
    """The real bundled all-MiniLM-L6-v2, loaded once per session."""
    model = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2", cache_dir=MODEL_CACHE)
    model.embed(["warm up"])
    return model


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings rooted in ``data_dir`` with the shared model cache."""
    settings = Settings(
        storage={"data_dir": data_dir},
        embedding={"cache_dir": MODEL_CACHE},
    )
    # Tests poll and walk routes faster than a client should; rate limits have their own tests.
    settings.security.rate_limit = ""
    for dotted, value in overrides.items():
        *sections, field = dotted.split("__")  # llm__anthropic__base_url: nested sections
        target: object = settings
        for section in sections:
            target = getattr(target, section)
        setattr(target, field, value)
    return settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings on a fresh temp data directory."""
    return make_settings(tmp_path / "data")


@pytest.fixture
def container(settings: Settings, embedder: SentenceTransformerEmbedder) -> Iterator[Container]:
    """Real services: SQLite and Chroma on a temp dir, the real embedder."""
    built = build_container(settings, embedder=embedder)
    yield built
    built.close()


def admin_headers(container: Container) -> dict[str, str]:
    """Request headers carrying a new admin key of ``container``."""
    secret = container.keys.create(["admin"], name="tests").secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def auth_headers(container: Container) -> dict[str, str]:
    """Headers with an admin key for the test's container (``client`` sends them already)."""
    return admin_headers(container)


@pytest.fixture
def client(container: Container, auth_headers: dict[str, str]) -> Iterator[TestClient]:
    """An in-process HTTP client against the app, authenticated with an admin key."""
    app = create_app(container)
    with TestClient(app, raise_server_exceptions=False, headers=auth_headers) as test_client:
        yield test_client


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter from the repository root (nothing imported yet);
    fail with its stderr if it fails; return its stdout, stripped."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(container: Container) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 serving the app; yields its base URL.

    Requests need an API key: the ``auth_headers`` fixture has an admin key for it.
    """
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
