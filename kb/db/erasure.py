"""Erasing what a knowledge base leaves in the registry database when it is deleted.

A row belongs to a knowledge base when its table has a ``kb_id`` column (documents,
conversations, leads, crawls, crawl pages, webhook deliveries...) or a foreign key to a table
that has one (a conversation's messages and events). Every such table mapped on ``Base`` is
erased, so a table added later is covered by naming its knowledge base ``kb_id``; a table whose
rows must outlive the knowledge base names it otherwise (the audit log keeps ids in ``target``,
API keys list theirs in ``kb_ids``). User profiles belong to a knowledge base and go with it.

On SQLite the registry's connections set ``secure_delete`` (deleted content is overwritten with
zeros) and ``checkpoint`` then moves those pages out of the write-ahead log, so a deleted
lead's e-mail address is in neither file afterwards.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, Table, delete, func, inspect, select
from sqlalchemy.engine import Connection, Engine

from kb.db.base import Base, KnowledgeBaseRow

log = logging.getLogger(__name__)


def _owned_rows(
    connection: Connection, kb_id: str | None
) -> list[tuple[Table, ColumnElement[bool]]]:
    """Per table, children first, the condition selecting its rows that belong to ``kb_id``
    (None: to any knowledge base that no longer exists)."""
    present = set(inspect(connection).get_table_names())
    kbs = KnowledgeBaseRow.__table__
    found: list[tuple[Table, ColumnElement[bool]]] = []
    for table in reversed(Base.metadata.sorted_tables):  # children before their parents
        if table.name not in present or table is kbs:
            continue
        if "kb_id" in table.c:
            found.append((table, _belongs(table, kb_id)))
            continue
        for key in table.foreign_keys:
            parent = key.column.table
            if parent is not kbs and "kb_id" in parent.c and parent.name in present:
                owners = select(key.column).where(_belongs(parent, kb_id))
                found.append((table, key.parent.in_(owners)))
    return found


def _belongs(table: Table, kb_id: str | None) -> ColumnElement[bool]:
    if kb_id is None:  # (a NULL kb_id is NOT IN an empty list: it names no knowledge base)
        return table.c.kb_id.is_not(None) & table.c.kb_id.not_in(select(KnowledgeBaseRow.id))
    return table.c.kb_id == kb_id


def erase_kb_rows(connection: Connection, kb_id: str) -> dict[str, int]:
    """Delete every row that belongs to ``kb_id`` (inside the caller's transaction, before the
    knowledge base's own row); rows deleted per table."""
    return _erase(connection, kb_id)


def erase_rows_of_deleted_kbs(connection: Connection, dry_run: bool = False) -> dict[str, int]:
    """Delete (or, ``dry_run``, only count) the rows naming a knowledge base that no longer
    exists: left by a deletion made before every table was erased, or written while it was
    being deleted. Rows per table."""
    if not dry_run:
        return _erase(connection, None)
    counted: dict[str, int] = {}
    for table, where in _owned_rows(connection, None):
        count = connection.scalar(select(func.count()).select_from(table).where(where)) or 0
        if count:
            counted[table.name] = counted.get(table.name, 0) + count
    return counted


def _erase(connection: Connection, kb_id: str | None) -> dict[str, int]:
    erased: dict[str, int] = {}
    for table, where in _owned_rows(connection, kb_id):
        count = connection.execute(delete(table).where(where)).rowcount
        if count:
            erased[table.name] = erased.get(table.name, 0) + count
    return erased


def checkpoint(engine: Engine) -> None:
    """Copy a SQLite database's write-ahead log into it and empty the log, so pages that held
    deleted content live on in neither file; nothing elsewhere. Best effort: a reader that is
    still open keeps the log until the next checkpoint."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as connection:
        busy = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    if busy is not None and busy[0]:
        log.warning("the registry's write-ahead log could not be emptied (a reader is open)")
