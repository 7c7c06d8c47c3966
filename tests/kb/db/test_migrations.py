"""Schema migrations (Alembic) on SQLite and a real PostgreSQL: the revisions match the tables
mapped on ``Base``, a database of the last release upgrades with every row intact, and a
PostgreSQL database is upgraded only by ``kb migrate``."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from api.cli.main import app
from kb.db import migrate
from kb.db.engine import make_engine
from kb.db.registry import Registry
from tests.support.postgres_server import postgres_server, postgres_url  # noqa: F401 (fixtures)

RELEASE = Path(__file__).parents[2] / "data" / "db" / "release-0.1.0.sqlite"


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the SQLite database at ``path``, by table, in key order."""
    with sqlite3.connect(path) as db:
        tables = [
            name
            for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if name != "alembic_version" and not name.startswith("sqlite_")
        ]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def _columns(path: Path, table: str) -> list[str]:
    with sqlite3.connect(path) as db:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


def test_the_revisions_create_exactly_the_mapped_tables(tmp_path: Path) -> None:
    """A new table or column mapped on ``Base`` needs a revision: this fails until it has one."""
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    assert migrate.differences(engine) == []
    engine.dispose()


def test_the_last_release_s_database_upgrades_with_every_row_intact(tmp_path: Path) -> None:
    copy = tmp_path / "kb.sqlite3"
    shutil.copy(RELEASE, copy)
    before = _rows(copy)
    assert sum(map(len, before.values())) >= 2 * len(before) >= 2 * 18  # rows in every table
    assert "alembic_version" not in before  # written before migrations

    registry = Registry(f"sqlite:///{copy}")  # the embedded default upgrades on open
    assert migrate.current(registry.engine) == migrate.head()
    assert [kb.id for kb in registry.list_kbs()[0]] == ["knowle_id_0", "knowle_id_1"]
    registry.close()

    after = _rows(copy)
    for table, rows in before.items():
        kept = _columns(RELEASE, table)
        added = _columns(copy, table)
        positions = [added.index(name) for name in kept]
        assert sorted((tuple(r[p] for p in positions) for r in after[table]), key=repr) == rows


def test_an_older_release_s_database_gains_what_it_lacked(tmp_path: Path) -> None:
    """A database from before deliveries named their knowledge base, and before key kinds:
    the columns are added, existing deliveries get their knowledge base from their bodies."""
    copy = tmp_path / "kb.sqlite3"
    shutil.copy(RELEASE, copy)
    with sqlite3.connect(copy) as db:
        db.execute("DROP INDEX ix_webhook_deliveries_kb_id")
        db.execute("ALTER TABLE webhook_deliveries DROP COLUMN kb_id")
        db.execute("ALTER TABLE api_keys DROP COLUMN kind")
        db.execute("DROP TABLE kb_embedding_indexes")
    engine = make_engine(f"sqlite:///{copy}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        kinds = connection.execute(text("SELECT kind FROM api_keys")).scalars().all()
        named = connection.execute(text("SELECT kb_id FROM webhook_deliveries ORDER BY id"))
        assert kinds == ["secret", "secret"]
        assert named.scalars().all() == ["knowle_id_0", "knowle_id_1"]
    assert "kb_embedding_indexes" in inspect(engine).get_table_names()
    engine.dispose()


def test_messages_of_the_last_release_gain_their_knowledge_base_and_citations(
    tmp_path: Path,
) -> None:
    """Revision 0002 names each stored message's knowledge base and lists the documents its
    citations name, as analytics read them."""
    copy = tmp_path / "kb.sqlite3"
    shutil.copy(RELEASE, copy)
    cited = '[{"document_id": "doc_a"}, {"document_id": "doc_b"}, {"document_id": "doc_a"}]'
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE conversation_messages SET role = 'bot', citations = ?", [cited])
    engine = make_engine(f"sqlite:///{copy}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        messages = connection.execute(text("SELECT id, kb_id FROM conversation_messages"))
        assert sorted(messages.all()) == [
            ("conver_id_0", "knowle_id_0"),
            ("conver_id_1", "knowle_id_1"),
        ]
        citations = connection.execute(
            text("SELECT message_id, kb_id, document_id FROM message_citations")
        )
        assert sorted(citations.all()) == [
            ("conver_id_0", "knowle_id_0", "doc_a"),
            ("conver_id_0", "knowle_id_0", "doc_b"),
            ("conver_id_1", "knowle_id_1", "doc_a"),
            ("conver_id_1", "knowle_id_1", "doc_b"),
        ]
    engine.dispose()


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    migrate.upgrade(engine)
    with engine.connect() as connection:
        command.downgrade(migrate.config(connection), "base")
        connection.commit()
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.current(engine) == migrate.head()
    engine.dispose()


def test_postgresql_is_migrated_by_kb_migrate_only(
    postgres_url: str,  # noqa: F811 (the imported fixture)
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A service refuses a PostgreSQL schema that is behind, with what to run; `kb migrate`
    upgrades it to the revisions, which match the mapped tables there too."""
    with pytest.raises(migrate.SchemaBehind, match="run `kb migrate`"):
        Registry(postgres_url)
    monkeypatch.setenv("KB_STORAGE__DATABASE_URL", postgres_url)
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    refused = runner.invoke(app, ["serve"])
    assert refused.exit_code == 1 and "run `kb migrate`" in refused.output
    assert runner.invoke(app, ["migrate", "--check"]).exit_code == 1
    done = runner.invoke(app, ["migrate"])
    assert done.exit_code == 0, done.output
    assert f"upgraded from none to {migrate.head()}" in done.output
    assert runner.invoke(app, ["migrate", "--check"]).exit_code == 0
    assert "already at" in runner.invoke(app, ["migrate"]).output

    registry = Registry(postgres_url)
    kb = registry.create_kb("docs")
    assert registry.get_kb(kb.id).name == "docs"
    assert migrate.differences(registry.engine) == []
    registry.close()
