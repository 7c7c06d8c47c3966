"""``kb migrate``: upgrade the registry database's schema to this release's (Alembic).

The embedded default (SQLite) upgrades itself on start; in the distributed setup (PostgreSQL)
this command is the one step that changes the schema, run once before the replicas and
workers of a new release start (they refuse a schema that is behind).
"""

from __future__ import annotations

from typing import Annotated

import typer

from kb.db.engine import make_engine
from kb.db.migrate import current, head, upgrade
from kb.settings import Settings


def migrate_command(
    check: Annotated[
        bool,
        typer.Option("--check", help="Only report the schema revision; exit 1 when behind."),
    ] = False,
) -> None:
    """Upgrade the database schema (KB_STORAGE__DATABASE_URL) to this release's."""
    settings = Settings()
    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        if check:
            found, wanted = current(engine), head()
            typer.echo(f"{where}: schema {found or 'none'}, this release {wanted}")
            if found != wanted:
                raise typer.Exit(1)
            return
        before, after = upgrade(engine)
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{where}: schema already at {after}")
    else:
        typer.echo(f"{where}: schema upgraded from {before or 'none'} to {after}")
