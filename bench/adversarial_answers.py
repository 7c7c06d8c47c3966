"""Fabricated answers through the whole answer path: how many are still shown as grounded?

A provider stand-in (the OpenAI wire protocol on 127.0.0.1, driven by the engine's real client)
answers each question of the ``data/eval`` answer sets with the sentence of the relevant passage
that holds the expected answer, altered one way:

- number: a number of the sentence changed (7 -> 8, 2019 -> 2020, "three" -> "four");
- negation: a negation added, or removed where there is one ("may" -> "may not", "est" -> "n'est
  pas");
- name: a capitalised name swapped for another one of the corpus;
- outside: a sentence from a document of another set (true somewhere, not in these passages).

The unaltered sentence is asked too, as the control (it should stay grounded). The engine runs
with its defaults (verification "drop", abstention on). An altered answer counts as shown
grounded when it comes back grounded with the altered words still in it (the "drop" policy may
remove the altered clause and keep the true rest: that is not a fabrication shown). Prints, per
alteration, how many came back grounded at all and how many with the alteration; the issue's bar
is at most 2 of 100 fabricated ones.

Usage: .venv/bin/python bench/adversarial_answers.py [--per-kind 25] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import tempfile
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.cli.evaluate import ingest_collection, scratch_settings  # noqa: E402
from api.container import build_container  # noqa: E402
from engine.answer_eval import load_cases  # noqa: E402
from engine.evaluation import load_beir  # noqa: E402
from engine.question import Question  # noqa: E402
from kb.settings import Settings  # noqa: E402
from tests.support.fakes.openai import FakeOpenAIServer  # noqa: E402

SETS = ("usrshare-en", "debian-reference-fr", "manpages-fr")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z«\"(])")
_NUMBER = re.compile(r"\b\d+\b")
_WORDS = {"one": "two", "two": "three", "three": "four", "four": "five", "five": "six",
          "deux": "trois", "trois": "quatre", "quatre": "cinq"}  # fmt: skip
_NEGATABLE = (
    (re.compile(r"\b(can|may|must|will|should|does|is|are)\b"), r"\1 not"),
    (re.compile(r"\b(est|sont|peut|peuvent|doit|doivent)\b"), r"ne \1 pas"),
)
_NEGATED = (
    (re.compile(r"\b(can|may|must|will|should|does|is|are) not\b"), r"\1"),
    (re.compile(r"\bne (\w+) pas\b"), r"\1"),
    (re.compile(r"\bn['’](\w+) pas\b"), r"\1"),
)
_NAME = re.compile(r"(?<=\s)[A-Z][a-z]{3,}\b")


def sentence_with(text: str, expected: str) -> str | None:
    """The sentence of ``text`` holding ``expected``."""
    for sentence in _SENTENCE.split(" ".join(text.split())):
        if expected in sentence and len(sentence.split()) >= 4:
            return sentence.strip()
    return None


def alter_number(sentence: str) -> str | None:
    match = _NUMBER.search(sentence)
    if match:
        value = int(match.group())
        return (
            sentence[: match.start()]
            + str(value + 1 if value < 9 else value * 2)
            + sentence[match.end() :]
        )
    for word, other in _WORDS.items():
        if re.search(rf"\b{word}\b", sentence):
            return re.sub(rf"\b{word}\b", other, sentence, count=1)
    return None


def alter_negation(sentence: str) -> str | None:
    for pattern, repl in _NEGATED:
        if pattern.search(sentence):
            return pattern.sub(repl, sentence, count=1)
    for pattern, repl in _NEGATABLE:
        if pattern.search(sentence):
            return pattern.sub(repl, sentence, count=1)
    return None


def alter_name(sentence: str, names: list[str], rng: random.Random) -> str | None:
    found = [m for m in _NAME.finditer(sentence)]
    if not found:
        return None
    match = rng.choice(found)
    others = [n for n in names if n.lower() != match.group().lower() and n not in sentence]
    if not others:
        return None
    return sentence[: match.start()] + rng.choice(others) + sentence[match.end() :]


def altered_region(original: str, altered: str) -> str:
    """The altered words of ``altered`` with three words of context either side."""
    before, after = original.split(), altered.split()
    opcodes = [op for op in SequenceMatcher(a=before, b=after).get_opcodes() if op[0] != "equal"]
    if not opcodes:
        return altered
    low, high = opcodes[0][3], opcodes[-1][4]
    return " ".join(after[max(0, low - 3) : high + 3])


def still_shown(region: str, answer: str) -> bool:
    """Whether the altered region survives in the answer shown (markers and spacing aside)."""

    def flat(text: str) -> str:
        return " ".join(re.sub(r"\s*\[\d+\]", "", text).split()).rstrip(".").casefold()

    return flat(region) in flat(answer)


def corpus_names(texts: list[str]) -> list[str]:
    """Capitalised words seen inside sentences and never in lower case: names, not sentence
    starts."""
    inner = Counter(m.group() for t in texts for m in _NAME.finditer(t) if not _after_stop(t, m))
    lower = {w for t in texts for w in re.findall(r"\b[a-zà-ÿ]{4,}\b", t)}
    return sorted(w for w, n in inner.items() if n >= 2 and w.lower() not in lower)


def _after_stop(text: str, match: re.Match[str]) -> bool:
    return text[: match.start()].rstrip()[-1:] in (".", "!", "?", ":", "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-kind", type=int, default=25)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rng = random.Random(7)
    counts: Counter[str] = Counter()
    grounded: Counter[str] = Counter()
    fabricated_shown: Counter[str] = Counter()
    shown: list[dict[str, object]] = []
    outside_pool: dict[str, list[str]] = {}
    for name in SETS:
        corpus = load_beir(REPO / "data" / "eval" / name).corpus
        outside_pool[name] = [
            s for row in corpus[:80] for s in _SENTENCE.split(row["text"]) if len(s.split()) > 8
        ]
    with FakeOpenAIServer() as provider, tempfile.TemporaryDirectory() as tmp:
        os.environ["KB_LLM__OPENAI_COMPATIBLE__BASE_URL"] = provider.base_url
        os.environ["KB_LLM__OPENAI_COMPATIBLE__MODEL"] = "stand-in"
        settings = Settings()  # the environment's other settings apply (KB_ANSWER__..., say)
        for name in SETS:
            folder = REPO / "data" / "eval" / name
            collection = load_beir(folder)
            texts = {row["_id"]: row["text"] for row in collection.corpus}
            names = corpus_names(list(texts.values()))
            container = build_container(scratch_settings(settings, Path(tmp) / name))
            try:
                kb = container.catalog.get_kb(ingest_collection(container, collection, None))
                in_set: Counter[str] = Counter()
                others = [s for other, pool in outside_pool.items() if other != name for s in pool]
                for case in load_cases(folder / "answers.jsonl"):
                    if case.unanswerable:
                        continue
                    sentence = None
                    for doc in case.doc_ids:
                        sentence = sentence or sentence_with(texts.get(doc, ""), case.expected[0])
                    if not sentence:
                        continue
                    variants = {
                        "control": sentence,
                        "number": alter_number(sentence),
                        "negation": alter_negation(sentence),
                        "name": alter_name(sentence, names, rng),
                        "outside": rng.choice(others),
                    }
                    for kind, reply in variants.items():
                        limit = args.per_kind * (len(SETS) if kind == "control" else 1)
                        if reply is None or (reply == sentence and kind != "control"):
                            continue
                        per_set = -(-limit // len(SETS))  # each set gives its share
                        if counts[kind] >= limit or in_set[kind] >= per_set:
                            continue
                        in_set[kind] += 1
                        provider.reply = f"{reply} [1]"
                        answer = container.queries.answer(
                            Question(kb.id, case.question, model="openai-compatible")
                        )
                        counts[kind] += 1
                        if answer.grounded:
                            grounded[kind] += 1
                            region = altered_region(sentence, reply)
                            if kind != "control" and (
                                kind == "outside" or still_shown(region, answer.answer)
                            ):
                                fabricated_shown[kind] += 1
                                shown.append({"kind": kind, "question": case.question,
                                              "reply": reply, "answer": answer.answer})  # fmt: skip
            finally:
                container.close()
    fabricated = sum(counts[k] for k in counts if k != "control")
    wrong = sum(fabricated_shown.values())
    print(f"{'kind':10} {'asked':>6} {'grounded':>9} {'with the alteration':>20}")
    for kind in ("number", "negation", "name", "outside", "control"):
        print(f"{kind:10} {counts[kind]:>6} {grounded[kind]:>9} {fabricated_shown[kind]:>20}")
    print(f"fabricated answers shown as grounded: {wrong} of {fabricated}")
    for row in shown:
        print(f"  [{row['kind']}] {row['reply']}")
    if args.json:
        report = {"counts": counts, "grounded": grounded, "fabricated_shown": fabricated_shown,
                  "shown": shown}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
