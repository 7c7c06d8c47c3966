"""``kb eval-answers`` on a small collection: the rates it prints and writes, and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from engine.answer_eval import load_cases
from kb.errors import InvalidInput
from tests.conftest import MODEL_CACHE

PASSAGES = [
    ("remote", "Employees may work from home up to three days per week, agreed in advance."),
    ("holiday", "Every full-time employee gets 28 days of paid holiday per year."),
    ("parking", "Staff parking is on level minus two of the garage, next to the lifts."),
]
QUESTIONS = [
    {"id": "a1", "question": "How many days of paid holiday do employees get per year?",
     "expected": ["28 days"]},
    {"id": "a2", "question": "On which level of the garage is staff parking?",
     "expected": ["level minus two"]},
    {"id": "u1", "question": "Who won the football world cup in 2018?", "unanswerable": True,
     "kind": "off_topic"},
]  # fmt: skip


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KB_EMBEDDING__CACHE_DIR", str(MODEL_CACHE))
    return CliRunner()


def _collection(folder: Path) -> Path:
    (folder / "qrels").mkdir(parents=True)
    rows = [json.dumps({"_id": i, "title": "", "text": t}) for i, t in PASSAGES]
    (folder / "corpus.jsonl").write_text("\n".join(rows) + "\n")
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "holiday"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("q\tholiday\t1\n")
    questions = folder / "answers.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return questions


def test_eval_answers_prints_and_writes_the_rates(runner: CliRunner, tmp_path: Path) -> None:
    questions = _collection(tmp_path / "set")
    out = tmp_path / "report.json"
    run = runner.invoke(
        app,
        ["eval-answers", str(tmp_path / "set"), str(questions), "--model", "extractive",
         "--json", str(out)],
    )  # fmt: skip
    assert run.exit_code == 0, run.output
    assert "extractive" in run.stdout and "%" in run.stdout
    [score] = json.loads(out.read_text())
    assert score["answerable"] == 2 and score["unanswerable"] == 1
    assert score["answered_rate"] == 1.0 and score["correct_citation_rate"] == 1.0
    assert score["refusal_rate"] == 1.0
    assert {c["id"] for c in score["cases"]} == {"a1", "a2", "u1"}


def test_a_malformed_question_file_is_refused_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok?", "expected": ["x"]}\n{"question": "no expectation"}\n')
    with pytest.raises(InvalidInput, match="line 2"):
        load_cases(bad)
    bad.write_text('{"question": "both?", "expected": ["x"], "unanswerable": true}\n')
    with pytest.raises(InvalidInput, match="line 1"):
        load_cases(bad)
