"""Write the judged questions of a collection: queries.jsonl, qrels/test.tsv and answers.jsonl."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Answerable:
    """A question whose answer is in the corpus: expected spans and graded relevant passages."""

    id: str
    question: str
    expected: list[str]
    relevant: dict[str, int]  # corpus id -> grade (2: answers it, 1: partly relevant)
    query: bool = True  # also a retrieval query in queries.jsonl / qrels


@dataclass(frozen=True)
class Unanswerable:
    """A question the corpus cannot answer; `absent` terms are checked not to occur in it."""

    id: str
    question: str
    kind: str  # "near_miss" (on topic) or "off_topic"
    absent: list[str] = field(default_factory=list)


def _load(path: Path) -> dict[str, str]:
    texts = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        doc = json.loads(line)
        texts[doc["_id"]] = doc["text"]  # quotes come from the text, not the title
    return texts


def write_questions(
    folder: Path,
    answerable: list[Answerable],
    unanswerable: list[Unanswerable],
    corpus_path: Path | None = None,
    beir: bool = True,
) -> None:
    """Check every question against the corpus, then write the files (beir: queries and qrels)."""
    texts = _load(corpus_path or folder / "corpus.jsonl")
    problems = []
    ids = [q.id for q in answerable] + [q.id for q in unanswerable]
    if len(ids) != len(set(ids)):
        problems.append("duplicate question ids")
    records = []
    for q in answerable:
        missing = [d for d in q.relevant if d not in texts]
        if missing:
            problems.append(f"{q.id}: unknown passages {missing}")
            continue
        holders = [d for d in q.relevant if any(e in texts[d] for e in q.expected)]
        if not holders:
            problems.append(f"{q.id}: no expected string in {list(q.relevant)}")
        records.append(
            {
                "id": q.id,
                "question": q.question,
                "expected": q.expected,
                "doc_ids": holders,
                "unanswerable": False,
            }
        )
    lowered = "\n".join(texts.values()).lower()
    for u in unanswerable:
        found = [t for t in u.absent if t.lower() in lowered]
        if found:
            problems.append(f"{u.id}: 'absent' terms occur in the corpus: {found}")
        if u.kind not in ("near_miss", "off_topic"):
            problems.append(f"{u.id}: bad kind {u.kind}")
        records.append({"id": u.id, "question": u.question, "unanswerable": True, "kind": u.kind})
    if problems:
        sys.exit("\n".join(problems))
    with (folder / "answers.jsonl").open("w", encoding="utf-8") as out:
        for rec in records:
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    if not beir:
        return
    (folder / "qrels").mkdir(exist_ok=True)
    with (folder / "queries.jsonl").open("w", encoding="utf-8") as out:
        for q in answerable:
            if q.query:
                out.write(json.dumps({"_id": q.id, "text": q.question}, ensure_ascii=False) + "\n")
    with (folder / "qrels" / "test.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        for q in answerable:
            if q.query:
                for doc, grade in q.relevant.items():
                    out.write(f"{q.id}\t{doc}\t{grade}\n")


def audit(folder: Path, answerable: list[Answerable]) -> None:
    """Print, per question, passages holding an expected string that are not judged (for review)."""
    texts = _load(folder / "corpus.jsonl")
    for q in answerable:
        extra = [
            d for d, t in texts.items() if d not in q.relevant and any(e in t for e in q.expected)
        ]
        if extra:
            print(f"{q.id} {q.expected}: also in {extra[:12]}{' ...' if len(extra) > 12 else ''}")
