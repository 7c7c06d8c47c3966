"""Alembic's environment: the registry's tables (``kb.db.migrations.metadata``) on the connection
``kb.db.migrate`` hands over, or on ``sqlalchemy.url`` when run by the ``alembic`` command."""

from __future__ import annotations

from alembic import context

from kb.db.engine import make_engine
from kb.db.migrations import include_object, metadata

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata(),
        include_object=include_object,
        compare_type=True,
        # SQLite alters a table by copying it: Alembic's batch mode does that.
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as opened:
        _run(opened)
    engine.dispose()
