"""The kb command on a real data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from tests.conftest import MODEL_CACHE


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_EMBEDDING__CACHE_DIR", str(MODEL_CACHE))
    return CliRunner()


def test_ingest_a_directory_then_ask_and_list(runner: CliRunner, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "coffee.md").write_text("# Coffee\n\nThe coffee machine is on the third floor.")
    (docs / "sub" / "wifi.txt").write_text("The guest wifi password is printed at reception.")
    (docs / "empty.txt").write_text("")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # skipped: not a document suffix

    first = runner.invoke(app, ["ingest", "office", str(docs)])
    assert first.exit_code == 1  # one file failed, and the run says which
    assert "2 created, 0 updated, 0 unchanged, 1 failed" in first.stdout
    assert "empty.txt" in first.stderr

    (docs / "empty.txt").unlink()
    second = runner.invoke(app, ["ingest", "office", str(docs)])
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated, 2 unchanged, 0 failed" in second.stdout

    asked = runner.invoke(app, ["ask", "office", "Where is the coffee machine?"])
    assert asked.exit_code == 0, asked.output
    assert "third floor" in asked.stdout and "[1] Coffee" in asked.stdout

    listed = runner.invoke(app, ["kbs"])
    assert "office" in listed.stdout
    documents = runner.invoke(app, ["docs", "office"])
    assert "2 documents" in documents.stdout and "wifi.txt" in documents.stdout

    missing = runner.invoke(app, ["ask", "nope", "anything"])
    assert missing.exit_code == 2


def test_ask_exits_3_when_not_grounded_in_plain_and_json_output(runner: CliRunner) -> None:
    """Regression: `kb ask --json` exited 0 for an ungrounded answer; the README says exit 3."""
    assert runner.invoke(app, ["create", "empty"]).exit_code == 0
    question = "What is the capital of Peru?"
    as_json = runner.invoke(app, ["ask", "empty", question, "--json"])
    assert as_json.exit_code == 3, as_json.output
    assert json.loads(as_json.stdout)["grounded"] is False
    plain = runner.invoke(app, ["ask", "empty", question])
    assert plain.exit_code == 3, plain.output


def test_ask_json_exits_0_when_grounded(runner: CliRunner, tmp_path: Path) -> None:
    note = tmp_path / "coffee.md"
    note.write_text("# Coffee\n\nThe coffee machine is on the third floor.")
    assert runner.invoke(app, ["ingest", "office", str(note)]).exit_code == 0
    result = runner.invoke(app, ["ask", "office", "Where is the coffee machine?", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["grounded"] is True and "third floor" in body["answer"]
