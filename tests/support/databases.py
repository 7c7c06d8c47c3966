"""A registry database fixture parametrised over SQLite and PostgreSQL (skipped where
PostgreSQL is not installed), for the tests of code that must run on both."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty registry database: SQLite, then a migrated PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kb.sqlite3'}"
    from kb.db.engine import make_engine
    from kb.db.migrate import upgrade

    server = request.getfixturevalue("postgres_server")
    url: str = server.create_database()
    request.addfinalizer(lambda: server.drop_database(url))
    engine = make_engine(url)
    upgrade(engine)  # as `kb migrate` does
    engine.dispose()
    return url
