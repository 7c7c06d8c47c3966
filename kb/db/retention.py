"""Retention: conversations with no message for N days are deleted, with every row that hangs
off them by a foreign key (messages, citations, events, feedback, and tables added later the
same way). Leads and profiles stay: they are the sales team's and the account's, with their
own erasure (``DELETE /v1/users/{user_id}``).

``delete_expired_conversations`` is idempotent (a second run finds nothing left) and works in
batches, so a large backlog never holds one long write lock. ``RetentionJob`` runs it in the
server process on a daemon thread; a distributed scheduler calls the function itself.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Table, delete, inspect, select
from sqlalchemy.engine import Connection, Engine

from kb.db.base import Base
from kb.db.conversations import ConversationRow

log = logging.getLogger(__name__)
BATCH = 500


def _attached(connection: Connection, ids: list[str]) -> list[tuple[Table, ColumnElement[bool]]]:
    """Per table, children first, the rows hanging off conversations ``ids`` by foreign keys."""
    present = set(inspect(connection).get_table_names())
    conversations = ConversationRow.__table__
    found: dict[Table, ColumnElement[bool]] = {conversations: conversations.c.id.in_(ids)}  # type: ignore[dict-item]
    for table in Base.metadata.sorted_tables:  # parents before their children
        if table.name not in present or table in found:
            continue
        for key in table.foreign_keys:
            parent = key.column.table
            if parent in found:
                owned = key.parent.in_(select(key.column).where(found[parent]))
                found[table] = owned if table not in found else found[table] | owned
    return list(reversed(found.items()))


def delete_expired_conversations(
    engine: Engine, days: int, now: datetime | None = None, batch: int = BATCH
) -> dict[str, int]:
    """Delete the conversations whose last activity is ``days`` days old or more, and what
    hangs off them; rows deleted per table (nothing when ``days`` is 0: kept forever)."""
    if days <= 0:
        return {}
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    if engine.dialect.name == "sqlite":  # stored UTC timestamps compare as text
        cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    row = ConversationRow
    deleted: dict[str, int] = {}
    while True:
        with engine.begin() as connection:
            ids = list(
                connection.scalars(
                    select(row.id).where(row.updated_at < cutoff).order_by(row.id).limit(batch)
                )
            )
            if not ids:
                return deleted
            for table, where in _attached(connection, ids):
                count = connection.execute(delete(table).where(where)).rowcount
                if count:
                    deleted[table.name] = deleted.get(table.name, 0) + count


class RetentionJob:
    """Runs ``delete_expired_conversations`` every ``interval_s`` on a daemon thread."""

    def __init__(self, engine: Engine, days: int, interval_s: float) -> None:
        self._engine = engine
        self.days = days
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> dict[str, int]:
        """One pass now; rows deleted per table."""
        deleted = delete_expired_conversations(self._engine, self.days)
        if deleted:
            log.info("retention deleted %s", deleted)
        return deleted

    def start(self) -> None:
        """Start the thread (nothing when retention is off, or already started)."""
        if self.days <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for a pass in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # a failed pass is retried at the next interval
                log.exception("retention pass failed")
            self._stop.wait(self._interval)
