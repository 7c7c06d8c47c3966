"""A knowledge base's write lock held across processes: PostgreSQL advisory locks.

Embedded, one process writes, and ingestion's per-knowledge-base ``RLock`` is enough. With API
replicas and workers on one PostgreSQL, two of them writing the same knowledge base (an upload
through a replica while a worker crawls it) must also take turns, or two could create the same
source's document at once. ``KbLocks`` keeps the in-process lock (threads of this process queue
there, holding no connection) and, around the outermost hold, a session advisory lock on a
connection of its own, released when the hold ends or, should the process die, when its
connection closes.
"""

from __future__ import annotations

import hashlib
import threading
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

# Keys of this module's advisory locks: a namespace, then 31 bits of the knowledge base id.
_NAMESPACE = 0x6B62
_ARGS = "CAST(:namespace AS integer), CAST(:key AS integer)"


def _key(kb_id: str) -> int:
    # pg_advisory_lock(int4, int4): 31 bits, so it stays a positive integer.
    return int.from_bytes(hashlib.sha256(kb_id.encode()).digest()[:4], "big") & 0x7FFFFFFF


class KbLock:
    """Re-entrant in its thread, exclusive across threads and processes."""

    def __init__(self, engine: Engine, kb_id: str) -> None:
        self._engine = engine
        self._key = _key(kb_id)
        self._local = threading.RLock()
        self._depth = 0
        self._connection: Connection | None = None

    def __enter__(self) -> KbLock:
        self._local.acquire()
        if self._depth == 0:
            try:
                connection = self._engine.connect()
                connection.execute(
                    text(f"SELECT pg_advisory_lock({_ARGS})"),
                    {"namespace": _NAMESPACE, "key": self._key},
                )
            except BaseException:
                self._local.release()
                raise
            self._connection = connection
        self._depth += 1
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._connection is not None:
                connection, self._connection = self._connection, None
                try:
                    connection.execute(
                        text(f"SELECT pg_advisory_unlock({_ARGS})"),
                        {"namespace": _NAMESPACE, "key": self._key},
                    )
                finally:
                    connection.close()
        finally:
            self._local.release()


class KbLocks:
    """One ``KbLock`` per knowledge base (a ``Callable[[str], lock]`` as ingestion takes)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._locks: dict[str, KbLock] = {}
        self._guard = threading.Lock()

    def __call__(self, kb_id: str) -> KbLock:
        """The write lock of ``kb_id``."""
        with self._guard:
            found = self._locks.get(kb_id)
            if found is None:
                found = self._locks[kb_id] = KbLock(self._engine, kb_id)
            return found
