"""Write ``release-<version>.sqlite``: a registry database as a release wrote it, rows in every
table, for the test that upgrades it (tests/kb/db/test_migrations.py).

The release's own code makes the schema: ``git archive <rev> kb`` is unpacked in a temporary
directory and its ``Registry`` and repositories create their tables, as they did on a user's
machine (no ``alembic_version``). Every table then gets rows, each column a value of its type,
foreign keys pointing at the parent's rows; a webhook delivery's body names its knowledge base
as real ones do.

    .venv/bin/python tests/data/db/make_fixture.py --rev HEAD --version 0.1.0
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import pkgutil
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
ROWS = 2


def main() -> None:
    """Build the fixture from the release at ``--rev``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rev", default="HEAD", help="Git revision of the release")
    parser.add_argument("--version", required=True, help="Its version, for the file name")
    args = parser.parse_args()
    out = HERE / f"release-{args.version}.sqlite"
    with tempfile.TemporaryDirectory() as tree:
        archive = subprocess.run(
            ["git", "archive", args.rev, "kb"], cwd=REPO, check=True, capture_output=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as unpacked:
            unpacked.extractall(tree, filter="data")
        sys.path.insert(0, tree)
        out.unlink(missing_ok=True)
        fill(f"sqlite:///{out}")
    print(f"wrote {out.relative_to(REPO)} ({out.stat().st_size} bytes)")


def fill(url: str) -> None:
    """Create the release's tables at ``url`` and put ``ROWS`` rows in each."""
    import kb

    assert not kb.__file__ or str(REPO / "kb") not in kb.__file__, "not the release's code"
    for name in ("kb.db", "kb.access", "kb.webhooks"):
        for module in pkgutil.walk_packages(importlib.import_module(name).__path__, f"{name}."):
            importlib.import_module(module.name)
    from sqlalchemy import create_engine

    from kb.db.base import Base

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    keys: dict[tuple[str, str], list[Any]] = {}
    with engine.begin() as connection:
        for table in Base.metadata.sorted_tables:
            rows = [_row(table, i, keys) for i in range(ROWS)]
            connection.execute(table.insert(), rows)
            for column in table.columns:
                keys[(table.name, column.name)] = [row[column.name] for row in rows]
    with engine.connect() as connection:  # small pages: the file is committed
        connection.exec_driver_sql("PRAGMA page_size = 1024")
        connection.exec_driver_sql("VACUUM")
    engine.dispose()


def _row(table: Any, i: int, keys: dict[tuple[str, str], list[Any]]) -> dict[str, Any]:
    row = {column.name: _value(table, column, i, keys) for column in table.columns}
    if table.name == "webhook_deliveries":
        event = {"id": f"evt_{i}", "type": "lead.created", "data": {"kb_id": row["kb_id"]}}
        row["body"] = json.dumps(event)
    return row


def _value(table: Any, column: Any, i: int, keys: dict[tuple[str, str], list[Any]]) -> Any:
    from sqlalchemy import JSON, Boolean, DateTime, Integer

    for key in column.foreign_keys:
        return keys[(key.column.table.name, key.column.name)][i]
    if column.name == "kb_id":
        return keys[("knowledge_bases", "id")][i]
    kind = column.type
    if isinstance(kind, Integer):
        return i + 1
    if isinstance(kind, Boolean):
        return i % 2 == 0
    if isinstance(kind, DateTime):
        return datetime(2026, 1, 1 + i, 12, 0, tzinfo=UTC)
    if isinstance(kind, JSON):
        return {"row": i, "table": table.name} if column.name != "scopes" else ["chat"]
    length = getattr(kind, "length", None) or 64
    return f"{table.name[:6]}_{column.name[:6]}_{i}"[:length]


if __name__ == "__main__":
    main()
