"""Fixtures of the API tests: the OpenAI-speaking provider stand-in and settings pointing the
openai-compatible answering model at it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.settings import Settings
from tests.conftest import make_settings
from tests.support.chroma_server import chroma_server  # noqa: F401 (a fixture)
from tests.support.fakes.openai import FakeOpenAIServer
from tests.support.postgres_server import postgres_server  # noqa: F401 (a fixture)


@pytest.fixture
def provider() -> Iterator[FakeOpenAIServer]:
    """A provider stand-in speaking OpenAI's wire protocol on 127.0.0.1."""
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def stand_in_settings(tmp_path: Path, provider: FakeOpenAIServer) -> Settings:
    """Default settings, with the openai-compatible model (``gpt-test``) on the stand-in."""
    return make_settings(
        tmp_path / "data",
        llm__openai_compatible__base_url=provider.base_url,
        llm__openai_compatible__model="gpt-test",
    )


# The core API tests run twice: on the embedded default, and on PostgreSQL with a Chroma server
# (the distributed setup's storage), by parametrising ``settings`` (issue 24). Only these
# modules, so the suite stays fast; the PostgreSQL run is skipped where it is not installed.
BACKEND_MODULES = frozenset({"tests.api.test_api", "tests.api.test_chat"})


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test of ``BACKEND_MODULES`` that builds settings once per backend."""
    if metafunc.module.__name__ in BACKEND_MODULES and "backend" in metafunc.fixturenames:
        metafunc.parametrize("backend", ["embedded", "postgres"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Where the test's data lives: ``embedded`` (SQLite, embedded Chroma) or ``postgres``."""
    return str(getattr(request, "param", "embedded"))


@pytest.fixture
def settings(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> Settings:
    """Default settings on a fresh temp data directory; with the ``postgres`` backend, on a
    new migrated PostgreSQL database and the session's Chroma server."""
    settings = make_settings(tmp_path / "data")
    if backend == "postgres":
        from kb.db.engine import make_engine
        from kb.db.migrate import upgrade

        server = request.getfixturevalue("postgres_server")
        chroma = request.getfixturevalue("chroma_server")
        url = server.create_database()
        request.addfinalizer(lambda: server.drop_database(url))
        engine = make_engine(url)
        upgrade(engine)  # as `kb migrate` does before the replicas start
        engine.dispose()
        settings.storage.database_url = url
        settings.store.chroma_host, settings.store.chroma_port = chroma.host, chroma.port
    return settings
