"""The evaluation collections under data/eval are well formed and their answers are grounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EVAL = REPO / "data" / "eval"
MSMARCO = REPO.parent / "shared" / "data" / "beir" / "msmarco"
BEIR_SETS = sorted(p.parent.name for p in EVAL.glob("*/corpus.jsonl"))
ANSWER_SETS = sorted(p.parent.name for p in EVAL.glob("*/answers.jsonl"))


def _jsonl(path: Path) -> list[dict]:
    # split on "\n" only: passages may hold U+2028 and friends, which splitlines() would cut at
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()
    ]


def _corpus(name: str) -> dict[str, str]:
    folder = EVAL / name
    path = folder / "corpus.jsonl"
    if not path.exists():  # answers over a corpus kept elsewhere (MS MARCO)
        if not (MSMARCO / "corpus.jsonl").exists():
            pytest.skip(f"{MSMARCO} is absent: the shared MS MARCO subset is not on this machine")
        path = MSMARCO / "corpus.jsonl"
    return {d["_id"]: d["text"] for d in _jsonl(path)}  # citations quote the text


def test_the_expected_sets_exist() -> None:
    assert {"usrshare-en", "debian-reference-fr"} <= set(BEIR_SETS)
    assert {"usrshare-en", "debian-reference-fr", "msmarco-answers"} <= set(ANSWER_SETS)


@pytest.mark.parametrize("name", BEIR_SETS)
def test_beir_layout_is_consistent(name: str) -> None:
    folder = EVAL / name
    corpus = _jsonl(folder / "corpus.jsonl")
    ids = [d["_id"] for d in corpus]
    assert len(ids) == len(set(ids)), "duplicate corpus ids"
    assert all(d["text"].strip() for d in corpus)
    assert (folder / "corpus.jsonl").stat().st_size < 1_600_000
    queries = _jsonl(folder / "queries.jsonl")
    qids = [q["_id"] for q in queries]
    assert len(qids) == len(set(qids)), "duplicate query ids"
    assert 30 <= len(qids) <= 60
    judged: set[str] = set()
    lines = (folder / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()
    for line in lines[1:] if lines[0].startswith("query-id") else lines:
        qid, doc, score = line.split("\t")
        assert qid in set(qids), f"qrels query {qid} not in queries.jsonl"
        assert doc in set(ids), f"qrels passage {doc} not in corpus.jsonl"
        assert int(score) in (1, 2)
        judged.add(qid)
    assert judged == set(qids), "every query has at least one judged passage"


@pytest.mark.parametrize("name", ANSWER_SETS)
def test_answers_are_grounded(name: str) -> None:
    corpus = _corpus(name)
    questions = _jsonl(EVAL / name / "answers.jsonl")
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), "duplicate question ids"
    answerable = [q for q in questions if not q["unanswerable"]]
    unanswerable = [q for q in questions if q["unanswerable"]]
    assert len(answerable) >= 30 and len(unanswerable) >= 20
    near = [q for q in unanswerable if q["kind"] == "near_miss"]
    assert len(near) * 2 >= len(unanswerable), "at least half the unanswerable ones are near misses"
    for q in answerable:
        assert q["question"].strip() and q["expected"] and q["doc_ids"], q["id"]
        for doc in q["doc_ids"]:
            assert doc in corpus, f"{q['id']}: unknown passage {doc}"
        assert any(e in corpus[d] for e in q["expected"] for d in q["doc_ids"]), (
            f"{q['id']}: no expected string verbatim in {q['doc_ids']}"
        )
        assert all(len(e) <= 60 for e in q["expected"]), f"{q['id']}: expected spans are short"
    for q in unanswerable:
        assert "expected" not in q and "doc_ids" not in q, q["id"]
        assert q["kind"] in ("near_miss", "off_topic"), q["id"]
