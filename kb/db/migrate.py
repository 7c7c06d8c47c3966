"""Schema migrations of the registry database (Alembic, ``kb/db/migrations``), SQLite and
PostgreSQL alike.

The revisions are the source of truth for the schema: a test compares the head revision with
the tables mapped on ``Base`` and fails on any difference, so a new table or column comes with
a revision. The embedded default (SQLite) upgrades itself when the registry opens; a server
database (PostgreSQL, shared by replicas and workers) is upgraded only by ``kb migrate``, and a
service refuses to start on one that is behind (``SchemaBehind``), rather than let one replica
change the schema under the others.

A database written by a release before migrations has tables but no ``alembic_version``: it is
brought to revision 0001 (which creates only what is missing, and adds the columns older
releases lacked) and stamped, then upgraded like any other.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

from kb.db.migrations import include_object, metadata, ops

MIGRATIONS = Path(__file__).with_name("migrations")
# Any PostgreSQL session holding this advisory lock is migrating (one at a time).
_PG_LOCK = 0x6B62_6D69


class SchemaBehind(RuntimeError):
    """The database's schema is older than this release's and must be migrated first."""


def config(connection: Connection | None = None) -> Config:
    """An Alembic configuration of ``kb/db/migrations`` (on ``connection`` when given)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    """The newest revision."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    assert found is not None
    return found


def current(engine: Engine) -> str | None:
    """The database's revision (None: not stamped, empty or from before migrations)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    """Whether the database is at the head revision."""
    return current(engine) == head()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database to ``revision``; its revisions before and after."""
    with _exclusive(engine), engine.connect() as connection:
        before = MigrationContext.configure(connection).get_current_revision()
        if before is None and _has_release_tables(connection):
            # A release before migrations: 0001 creates what is missing only (module docstring).
            command.upgrade(config(connection), "0001")
        command.upgrade(config(connection), revision)
        connection.commit()
        after = MigrationContext.configure(connection).get_current_revision()
    return before, after


def complete(engine: Engine) -> list[str]:
    """Create the mapped tables, columns and indexes the revisions do not have yet (a checkout
    in development, between a change to a table and its revision); what was added. The test
    of the revisions against ``Base`` fails meanwhile, so none of this reaches a release."""
    added: list[str] = []
    with (
        _exclusive(engine),
        engine.begin() as connection,
        Operations.context(MigrationContext.configure(connection)),
    ):
        mapped = metadata()
        added += ops.create_missing_tables(mapped)
        for table in mapped.sorted_tables:
            added += [f"{table.name}.{c}" for c in ops.add_missing_columns(table)]
            present = {i["name"] for i in inspect(connection).get_indexes(table.name)}
            for index in table.indexes:
                if index.name not in present:
                    index.create(connection)
                    added.append(str(index.name))
    return added


def ensure_current(engine: Engine) -> None:
    """Raise ``SchemaBehind`` unless the database is at the head revision."""
    found, wanted = current(engine), head()
    if found != wanted:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaBehind(
            f"The database {where} is at schema revision {found or 'none (empty or older)'}, "
            f"this release needs {wanted}: run `kb migrate` once (with the same "
            "KB_STORAGE__DATABASE_URL) before starting the service."
        )


def differences(engine: Engine) -> list[Any]:
    """What would have to change for the database to match the mapped tables (empty when the
    revisions and ``Base`` agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": include_object, "compare_type": True}
        )
        return list(compare_metadata(context, metadata()))


def _has_release_tables(connection: Connection) -> bool:
    return "knowledge_bases" in inspect(connection).get_table_names()


@contextlib.contextmanager
def _exclusive(engine: Engine) -> Iterator[None]:
    """One migration at a time: a file lock beside a SQLite database, an advisory lock on
    PostgreSQL (two replicas or ``kb migrate`` runs starting together)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK})
                connection.commit()
        return
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
