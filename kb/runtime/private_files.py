"""The data directory is the service's own: owner-only permissions on it, on everything in it,
and on every file the process creates afterwards.

It holds the registry, the passage texts, the vectors, generated keys and the model cache; none
of it is for other local users. SQLite, Chroma, the model extraction and the ONNX export create
their files with the process umask (0644 and 0755 under the usual 022), so the umask is the one
place that covers them all, files they create later included (WAL files, new collections).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

logger = logging.getLogger(__name__)

OWNER_ONLY = 0o077  # the permission bits of group and others


def keep_private(data_dir: Path) -> Path:
    """Create ``data_dir`` if missing, make it and everything in it owner-only (0700
    directories, 0600 files), and add group and other bits to the process umask, so whatever
    the process creates from now on is owner-only too. Returns ``data_dir``.

    Entries left by an earlier version (or copied in) are tightened here, once per start.
    """
    os.umask(os.umask(OWNER_ONLY) | OWNER_ONLY)  # keeps any stricter bits already set
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(data_dir)
    for root, dirs, files in os.walk(data_dir):
        for name in (*dirs, *files):
            _tighten(Path(root, name))
    return data_dir


def _tighten(path: Path) -> None:
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not mode & OWNER_ONLY:
            return  # a link's own bits mean nothing; its target is not ours to change
        path.chmod(stat.S_IMODE(mode) & ~OWNER_ONLY)
    except OSError as exc:  # not ours, or read-only: say so, keep serving
        logger.warning("could not make %s owner-only: %s", path, exc)
