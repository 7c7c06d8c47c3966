"""Erasing what a knowledge base leaves in the registry database when it is deleted, and what
one user leaves in it (``erase_user_rows``, ``export_user_rows``: the section further down).

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

import json
import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, MetaData, Table, delete, func, inspect, or_, select
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


# ---- One user's rows (a visitor's right of access and to erasure) --------------------------
#
# A row is the user's when its table has a ``user_id`` column naming them (conversations,
# leads, profiles, feedback), or a foreign key, at any depth, to a row that is (messages,
# events, citations), or a ``conversation_id`` naming one of their conversations. Stored event
# bodies (webhook deliveries, the event outbox: a ``body`` column of JSON) are the user's when
# their data names the user or one of their conversations. ``kb_ids`` limits it all to some
# knowledge bases (a restricted key's).

LEGACY_PROFILES = "user_profiles_legacy"  # kb.db.profiles: profiles never attributed to a KB
_CONVERSATIONS = "conversations"


def user_rows(
    connection: Connection, user_id: str, kb_ids: frozenset[str] | None = None
) -> list[tuple[Table, ColumnElement[bool]]]:
    """Per table, parents first, the condition selecting the user's rows."""
    present = set(inspect(connection).get_table_names())
    found: dict[Table, ColumnElement[bool]] = {}
    for table in Base.metadata.sorted_tables:  # parents before their children
        if table.name not in present:
            continue
        where = _user_condition(table, user_id, kb_ids, found)
        if where is not None:
            found[table] = where
    return list(found.items())


def _user_condition(
    table: Table,
    user_id: str,
    kb_ids: frozenset[str] | None,
    found: dict[Table, ColumnElement[bool]],
) -> ColumnElement[bool] | None:
    conversations = next((t for t in found if t.name == _CONVERSATIONS), None)
    if "user_id" in table.c:
        where = table.c.user_id == user_id
        if kb_ids is None:
            return where
        if "kb_id" in table.c:
            return where & table.c.kb_id.in_(kb_ids)
        if "conversation_id" in table.c and conversations is not None:
            return where & table.c.conversation_id.in_(_ids(conversations, found))
        return None  # not attributable to a knowledge base the caller may reach
    owned = [
        key.parent.in_(select(key.column).where(found[key.column.table]))
        for key in table.foreign_keys
        if key.column.table in found
    ]
    if not owned and "conversation_id" in table.c and conversations is not None:
        owned.append(table.c.conversation_id.in_(_ids(conversations, found)))
    if not owned:
        return None
    where = owned[0]
    for other in owned[1:]:
        where = where | other
    return where


def _ids(conversations: Table, found: dict[Table, ColumnElement[bool]]) -> Any:
    return select(conversations.c.id).where(found[conversations])


def user_event_bodies(
    connection: Connection, user_id: str, kb_ids: frozenset[str] | None = None
) -> list[tuple[Table, list[Any]]]:
    """Per table of stored event bodies, the primary keys of the rows about the user."""
    present = set(inspect(connection).get_table_names())
    conversation_ids = _conversation_ids(connection, user_id, kb_ids)
    needle = json.dumps(user_id)[1:-1]  # as it appears inside a JSON string
    found: list[tuple[Table, list[Any]]] = []
    for table in Base.metadata.sorted_tables:
        if table.name not in present or "body" not in table.c or "user_id" in table.c:
            continue
        (key,) = table.primary_key.columns
        mentions = [table.c.body.contains(needle, autoescape=True)]
        mentions += [table.c.body.contains(c, autoescape=True) for c in conversation_ids]
        candidates = connection.execute(select(key, table.c.body).where(or_(*mentions)))
        keys = [k for k, body in candidates if _about(body, user_id, conversation_ids, kb_ids)]
        if keys:
            found.append((table, keys))
    return found


def _conversation_ids(
    connection: Connection, user_id: str, kb_ids: frozenset[str] | None
) -> set[str]:
    table = Base.metadata.tables[_CONVERSATIONS]
    query = select(table.c.id).where(table.c.user_id == user_id)
    if kb_ids is not None:
        query = query.where(table.c.kb_id.in_(kb_ids))
    return set(connection.scalars(query))


def _about(body: str, user_id: str, conversations: set[str], kb_ids: frozenset[str] | None) -> bool:
    try:
        data = json.loads(body).get("data") or {}
    except (ValueError, AttributeError):
        return False
    if not isinstance(data, dict):
        return False
    if kb_ids is not None and data.get("kb_id") not in kb_ids:
        return False
    return data.get("user_id") == user_id or data.get("conversation_id") in conversations


def erase_user_rows(
    connection: Connection, user_id: str, kb_ids: frozenset[str] | None = None
) -> dict[str, int]:
    """Delete every row about the user (inside the caller's transaction); rows per table."""
    erased: dict[str, int] = {}
    for table, keys in user_event_bodies(connection, user_id, kb_ids):
        (key,) = table.primary_key.columns
        erased[table.name] = connection.execute(delete(table).where(key.in_(keys))).rowcount
    for table, where in reversed(user_rows(connection, user_id, kb_ids)):  # children first
        count = connection.execute(delete(table).where(where)).rowcount
        if count:
            erased[table.name] = erased.get(table.name, 0) + count
    if kb_ids is None and LEGACY_PROFILES in inspect(connection).get_table_names():
        legacy = Table(LEGACY_PROFILES, MetaData(), autoload_with=connection)
        count = connection.execute(delete(legacy).where(legacy.c.user_id == user_id)).rowcount
        if count:
            erased[LEGACY_PROFILES] = count
    return erased


# A hash of the visitor's credential: nothing about them, and no use to anyone but a thief.
_NOT_EXPORTED = frozenset({"visitor_token_hash"})


def export_user_rows(
    connection: Connection, user_id: str, kb_ids: frozenset[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every row about the user, per table (the rows ``erase_user_rows`` deletes), as JSON
    values: timestamps in ISO 8601 UTC, stored event bodies parsed."""
    exported: dict[str, list[dict[str, Any]]] = {}
    for table, where in user_rows(connection, user_id, kb_ids):
        order = list(table.primary_key.columns)
        rows = connection.execute(select(table).where(where).order_by(*order)).mappings()
        values = [
            {k: _json_value(v) for k, v in row.items() if k not in _NOT_EXPORTED} for row in rows
        ]
        if values:
            exported[table.name] = values
    for table, keys in user_event_bodies(connection, user_id, kb_ids):
        (key,) = table.primary_key.columns
        rows = connection.execute(select(table).where(key.in_(keys)).order_by(key)).mappings()
        exported[table.name] = [
            {k: json.loads(v) if k == "body" else _json_value(v) for k, v in row.items()}
            for row in rows
        ]
    return exported


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value
