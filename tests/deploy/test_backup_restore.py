"""The backup and restore procedures of docs/deployment.md, run for real: the embedded data
directory (SQLite online backup while the service is open, Chroma copied once it is stopped,
restored into a fresh directory) and a pg_dump / pg_restore round trip of the registry."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from api.container import build_container
from engine.retrieval.retriever import SearchRequest
from ingest.sources import RawSource
from kb.db.engine import make_engine
from kb.db.migrate import current, head, upgrade
from kb.db.registry import Registry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import make_settings
from tests.support.postgres_server import PostgresServer, postgres_server  # noqa: F401

HANDBOOK = b"# Holidays\n\nEvery employee gets 28 days of paid holiday per year."
QUESTION = "How many days of paid holiday?"


def _online_backup(source: Path, target: Path) -> None:
    """SQLite's online backup, as `sqlite3 SRC ".backup 'DST'"` does it."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)


def test_embedded_backup_restores_into_a_fresh_data_directory(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    live_dir, backup, restored_dir = tmp_path / "live", tmp_path / "backup", tmp_path / "restored"
    backup.mkdir()
    live = build_container(make_settings(live_dir), embedder=embedder)
    try:
        kb = live.catalog.create_kb("handbook")
        live.ingestion.ingest(kb.id, RawSource(HANDBOOK, "handbook.md", "handbook.md"))
        # Online: the service is open (and holds its WAL) while the two files are copied.
        for name in ("kb.sqlite3", "lexical.sqlite3"):
            _online_backup(live_dir / name, backup / name)
    finally:
        live.close()
    shutil.copytree(live_dir / "chroma", backup / "chroma")  # the writer is stopped now

    restored_dir.mkdir()
    for name in ("kb.sqlite3", "lexical.sqlite3"):
        shutil.copy2(backup / name, restored_dir / name)
    shutil.copytree(backup / "chroma", restored_dir / "chroma")
    restored = build_container(make_settings(restored_dir), embedder=embedder)
    try:
        assert restored.reconciler.run(dry_run=True).clean  # `kb doctor --dry-run`
        found = restored.catalog.resolve_kb("handbook")
        assert found is not None and found.id == kb.id
        passages = restored.retriever.search(found.id, SearchRequest(query=QUESTION))
        assert passages and "28 days" in passages[0].chunk.text
    finally:
        restored.close()


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump is not installed")
def test_pg_dump_and_pg_restore_round_trip_the_registry(
    postgres_server: PostgresServer,  # noqa: F811
) -> None:
    source_url, target_url = postgres_server.create_database(), postgres_server.create_database()
    try:
        engine = make_engine(source_url)
        upgrade(engine)  # `kb migrate`
        engine.dispose()
        registry = Registry(source_url)
        kb = registry.create_kb("handbook")
        registry.close()
        plain = source_url.replace("postgresql+psycopg://", "postgresql://")
        dump = subprocess.run(
            ["pg_dump", "--format=custom", plain], capture_output=True, check=True, timeout=120
        ).stdout
        subprocess.run(
            ["pg_restore", "--clean", "--if-exists", "--no-owner", "--dbname",
             target_url.replace("postgresql+psycopg://", "postgresql://")],
            input=dump, capture_output=True, check=True, timeout=120,
        )  # fmt: skip
        restored = make_engine(target_url)
        try:
            assert current(restored) == head()  # `kb migrate --check` passes
        finally:
            restored.dispose()
        copy = Registry(target_url)
        try:
            assert copy.get_kb(kb.id).name == "handbook"
        finally:
            copy.close()
    finally:
        postgres_server.drop_database(source_url)
        postgres_server.drop_database(target_url)
