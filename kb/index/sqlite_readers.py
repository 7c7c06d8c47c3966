"""A read connection per thread to one SQLite database in WAL mode.

Readers in WAL mode run beside each other and beside a writer, each on the last committed
state; one connection shared under a lock makes every read wait for the others and for writes.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from pathlib import Path


class _Reader(sqlite3.Connection):
    """One thread's read connection (a subclass only so that weak references to it can be
    held: a thread's connection goes with the thread)."""


class ThreadReaders:
    """Read-only connections to ``path``, one per thread that reads, all closed by ``close``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._closed = False

    def get(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None:
            with self._lock:
                if self._closed:
                    raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
                # Used only by this thread, but closed by close() from another.
                reader = sqlite3.connect(
                    self._path, check_same_thread=False, isolation_level=None, factory=_Reader
                )
                reader.execute("PRAGMA query_only = ON")
                self._open.add(reader)
            self._local.reader = reader
        return reader

    def close(self) -> None:
        """Close every connection; later reads fail as on a closed database."""
        with self._lock:
            self._closed = True
            for reader in list(self._open):
                reader.close()
