"""Idempotent schema steps the revisions share: create what is missing, leave what exists.

A database may already hold a table or column a revision adds: written by ``create_all`` in a
development checkout, or by a release before migrations (its repositories created their own
tables and added the columns they lacked). These steps make such a revision a no-op for what is
there, and add the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from alembic import op

log = logging.getLogger(__name__)


def _inspector() -> sa.Inspector:
    return sa.inspect(op.get_bind())


def create_missing_tables(metadata: sa.MetaData) -> list[str]:
    """Create the tables of ``metadata`` the database lacks (parents first); their names."""
    present = set(_inspector().get_table_names())
    missing = [t for t in metadata.sorted_tables if t.name not in present]
    metadata.create_all(op.get_bind(), tables=missing)
    return [t.name for t in missing]


def add_missing_columns(table: sa.Table, skip: Iterable[str] = ()) -> list[str]:
    """Add the columns of ``table`` its stored copy lacks (those that can be added to rows
    already there: nullable or with a server default); their names."""
    present = {c["name"] for c in _inspector().get_columns(table.name)}
    added = []
    for column in table.columns:
        if column.name in present or column.name in skip:
            continue
        if not column.nullable and column.server_default is None:
            log.warning("%s.%s cannot be added to existing rows; left out", table, column.name)
            continue
        with op.batch_alter_table(table.name) as batch:
            batch.add_column(column.copy())
        added.append(column.name)
    return added


def create_missing_indexes(indexes: Sequence[tuple[str, str, list[str]]]) -> None:
    """Create the indexes (name, table, columns) the database lacks."""
    inspector = _inspector()
    present: dict[str, set[str]] = {}
    for name, table, columns in indexes:
        if table not in present:
            present[table] = {i["name"] or "" for i in inspector.get_indexes(table)}
        if name not in present[table]:
            op.create_index(name, table, columns, unique=False)


def drop_tables(names: Iterable[str]) -> None:
    """Drop these tables where they exist."""
    present = set(_inspector().get_table_names())
    for name in names:
        if name in present:
            op.drop_table(name)


def has_table(name: str) -> bool:
    """Whether the database has this table."""
    return name in _inspector().get_table_names()


def has_column(table: str, column: str) -> bool:
    """Whether the table has this column."""
    return column in {c["name"] for c in _inspector().get_columns(table)}


def has_index(table: str, index: str) -> bool:
    """Whether the table has this index."""
    return index in {i["name"] for i in _inspector().get_indexes(table)}
