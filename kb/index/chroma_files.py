"""What embedded Chroma leaves on disk after a collection is deleted, and removing it.

An embedded Chroma (``PersistentClient``) keeps, under its directory, ``chroma.sqlite3`` (the
collections, their segments, each chunk's metadata and its write log) and one folder per vector
segment, named by the segment's UUID (the HNSW graph and the vectors). Deleting a collection
deletes its rows but leaves its segment folder (upstream chroma-core/chroma#1309) and the
deleted rows' bytes in the database's free pages, as Chroma does not set ``secure_delete``.
``ChromaFiles`` finds a collection's segments before it is deleted, removes their folders after
(only folders directly inside the directory, named as a UUID, that no segment still uses), and
rewrites the database without its free pages (``VACUUM``).

A Chroma server (``KB_STORE__CHROMA_HOST``) owns its disk: none of this reaches it, and the
same leftovers stay on the server's disk until it removes them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATABASE = "chroma.sqlite3"


class ChromaFiles:
    """The segment folders and the database file of an embedded Chroma directory."""

    def __init__(self, root: Path) -> None:
        self._root = root.resolve()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(f"file:{self._root / DATABASE}?mode=ro", uri=True, timeout=10)
        try:
            yield db
        finally:
            db.close()

    def segment_ids(self, collection_id: str) -> set[str]:
        """The ids of a collection's segments (empty when Chroma's tables cannot be read: a
        layout this code does not know leaves its folders alone)."""
        try:
            with self._read() as db:
                rows = db.execute(
                    "SELECT id FROM segments WHERE collection = ?", (collection_id,)
                ).fetchall()
        except sqlite3.Error as exc:
            log.warning("cannot read Chroma's segments (%s); its folders are left as they are", exc)
            return set()
        return {str(row[0]) for row in rows}

    def _live_segment_ids(self) -> set[str] | None:
        try:
            with self._read() as db:
                return {str(row[0]) for row in db.execute("SELECT id FROM segments")}
        except sqlite3.Error as exc:
            log.warning("cannot read Chroma's segments (%s); its folders are left as they are", exc)
            return None

    def remove_segments(self, segment_ids: Iterable[str]) -> int:
        """Remove the folders of segments that no longer exist (their collection was deleted);
        how many were removed."""
        wanted = list(segment_ids)
        live = self._live_segment_ids() if wanted else set()
        if live is None:
            return 0
        return self._remove([self._root / name for name in wanted if name not in live])

    def stray_folders(self) -> list[Path]:
        """Segment folders no segment uses: left by deletions before they were removed."""
        # Listed before the segments are read: a folder is created after its segment's row, so
        # a collection created meanwhile never has its folder taken for a stray one.
        folders = [path for path in self._root.iterdir() if self._is_segment_folder(path)]
        live = self._live_segment_ids()
        if live is None:
            return []
        return [path for path in folders if path.name not in live]

    def remove_stray_folders(self) -> int:
        """Remove ``stray_folders``; how many were removed."""
        return self._remove(self.stray_folders())

    def _is_segment_folder(self, path: Path) -> bool:
        return (
            bool(_UUID.match(path.name))
            and path.is_dir()
            and not path.is_symlink()
            and path.resolve().parent == self._root
        )

    def _remove(self, folders: list[Path]) -> int:
        removed = 0
        for path in folders:
            if not self._is_segment_folder(path):  # gone already, or not one of Chroma's
                continue
            shutil.rmtree(path)
            removed += 1
        return removed

    def compact(self) -> None:
        """Rewrite the database without its free pages, where deleted rows' bytes linger."""
        db = sqlite3.connect(self._root / DATABASE, timeout=30, isolation_level=None)
        try:
            db.execute("VACUUM")
        except sqlite3.Error as exc:  # busy for 30 s: the next deletion or `kb doctor` retries
            log.warning("could not compact %s: %s", DATABASE, exc)
        finally:
            db.close()
