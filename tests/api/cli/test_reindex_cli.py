"""``kb create --model`` and ``kb reindex KB --model NAME`` in the foreground."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.container import build_container
from kb.embeddings.catalog import E5_SMALL, MINILM
from tests.conftest import MODEL_CACHE


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_EMBEDDING__CACHE_DIR", str(MODEL_CACHE))
    return CliRunner()


def test_create_with_a_model_then_reindex_with_another(runner: CliRunner, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "horaires.txt").write_text("La bibliothèque ouvre à neuf heures.", encoding="utf-8")
    made = runner.invoke(app, ["create", "fr", "--model", E5_SMALL])
    assert made.exit_code == 0, made.output
    assert runner.invoke(app, ["ingest", "fr", str(docs)]).exit_code == 0

    done = runner.invoke(app, ["reindex", "fr", "--model", MINILM])

    assert done.exit_code == 0, done.output
    assert f"done, 1/1 chunks with {MINILM}" in done.stdout
    container = build_container()
    try:
        kb = container.catalog.resolve_kb("fr")
        assert kb is not None and container.catalog.index_of(kb.id).model == MINILM  # type: ignore[union-attr]
    finally:
        container.close()
