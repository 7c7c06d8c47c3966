"""Evaluation metrics on a hand-made collection, values computed by hand; and kb eval end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.evaluate import evaluate_beir
from api.cli.main import app
from engine.evaluation import BeirCollection, evaluate, load_beir, mrr_at, ndcg_at, recall_at
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.errors import InvalidInput
from tests.conftest import MODEL_CACHE, make_settings

COLLECTION = BeirCollection(
    corpus=[{"_id": d, "title": "", "text": d} for d in ("d1", "d2", "d3", "d4")],
    queries={"q1": "first", "q2": "second", "q3": "unjudged"},
    qrels={"q1": {"d1": 2, "d3": 1}, "q2": {"d4": 1}, "q3": {"d9": 1}},
)


def test_metrics_match_hand_computation() -> None:
    grades = COLLECTION.qrels["q1"]
    ranked = ["d2", "d1", "d3"]
    # gains 2^g - 1: d1 -> 3, d3 -> 1
    # DCG = 0/log2(2) + 3/log2(3) + 1/log2(4); IDCG = 3/log2(2) + 1/log2(3)
    expected = (3 / math.log2(3) + 1 / 2) / (3 + 1 / math.log2(3))
    assert ndcg_at(ranked, grades, 10) == pytest.approx(expected)
    assert expected == pytest.approx(0.65900, abs=1e-5)
    assert ndcg_at(ranked, grades, 1) == 0.0
    assert recall_at(ranked, grades, 10) == 1.0
    assert recall_at(ranked, grades, 2) == 0.5
    assert mrr_at(ranked, grades, 10) == 0.5
    assert mrr_at(ranked, grades, 1) == 0.0


def test_evaluate_averages_over_judged_queries_only() -> None:
    runs = {"first": ["d2", "d1", "d3"], "second": ["d1", "d2"], "unjudged": ["d1"]}
    assert [q for q, _ in COLLECTION.judged_queries()] == ["q1", "q2"]
    result = evaluate(COLLECTION, runs.__getitem__)
    assert result["ndcg@10"] == pytest.approx(0.65900 / 2, abs=1e-5)
    assert result["recall@10"] == 0.5 and result["recall@100"] == 0.5
    assert result["mrr@10"] == 0.25


def _write_beir(folder: Path) -> None:
    (folder / "qrels").mkdir(parents=True)
    corpus = {
        "p1": "Photosynthesis turns sunlight, water and carbon dioxide into sugar in plants.",
        "p2": "The Eiffel Tower in Paris was completed in 1889.",
        "p3": "Error code QX-9047 signals a missing licence dongle.",
        "p4": "Honey bees communicate the location of flowers with a waggle dance.",
    }
    (folder / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": k, "title": "", "text": v}) for k, v in corpus.items())
    )
    queries = {"a": "how do plants make sugar from light", "b": "QX-9047", "c": "bee dance"}
    (folder / "queries.jsonl").write_text(
        "\n".join(json.dumps({"_id": k, "text": v}) for k, v in queries.items())
    )
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\na\tp1\t1\nb\tp3\t1\nc\tp4\t1\n"
    )


def test_evaluate_beir_ranks_a_tiny_collection(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    _write_beir(tmp_path / "tiny")
    seen: list[str] = []
    report = evaluate_beir(
        tmp_path / "tiny",
        ["dense", "lexical", "hybrid", "hybrid:rrf"],
        settings=make_settings(tmp_path / "unused"),
        embedder=embedder,
        progress=lambda stage, done, total: seen.append(stage),
    )
    assert report.documents == 4 and report.queries == 3
    assert report.results["dense"]["recall@10"] == 1.0
    assert report.results["hybrid"]["mrr@10"] == 1.0
    assert report.results["lexical"]["recall@10"] == pytest.approx(2 / 3, abs=0.34)
    assert {"ingest", "dense", "lexical", "hybrid", "hybrid:rrf"} <= set(seen)
    assert not (tmp_path / "unused").exists()  # the throw-away KB lived in a temp dir


def test_kb_eval_command_prints_a_table_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_beir(tmp_path / "tiny")
    monkeypatch.setenv("KB_EMBEDDING__CACHE_DIR", str(MODEL_CACHE))
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", str(tmp_path / "tiny"), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "nDCG@10" in result.stdout and "hybrid" in result.stdout
    assert set(json.loads(out.read_text())["results"]) == {"dense", "lexical", "hybrid"}


def test_not_a_beir_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"corpus\.jsonl"):
        load_beir(tmp_path)
