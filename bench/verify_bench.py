"""Claim verification latency: a typical answer (4 claims, markers included) against 5 passages
of ~200 tokens, with the real bundled embedder (int8 ONNX, the default backend).

Passages are runs of consecutive MS MARCO passages (the shared BEIR sample) of ~200 model
tokens. Two kinds of answer, each sentence cited: "mixed" quotes two passages word for word
(as the extractive answerer does), rewords a third and makes one claim up; "reworded" rewords
all four (as an LLM would: every claim then needs the embedder). Each round verifies a
different answer/passage set, so nothing cached is about the text verified. Prints p50/p95
over --rounds per kind, and where the time goes. The machine may be shared: the load average
is printed, and the process's CPU time beside the wall-clock figures.

Usage: .venv/bin/python bench/verify_bench.py [--rounds 60] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach a hub
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.verify.answer import verify_answer  # noqa: E402
from engine.verify.claims import split_claims  # noqa: E402
from engine.verify.sentences import sentence_spans  # noqa: E402
from engine.verify.support import analyse_passage  # noqa: E402
from engine.verify.verifier import HeuristicVerifier  # noqa: E402
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder  # noqa: E402

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "beir" / "msmarco"
PASSAGE_TOKENS = 200
PASSAGES = 5


class CountingEmbedder:
    """The real embedder, counting calls, texts and time spent in it."""

    def __init__(self, inner: SentenceTransformerEmbedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.calls = 0
        self.texts = 0
        self.seconds = 0.0

    def embed(self, texts, token_ids=None):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return self.inner.embed(texts, token_ids)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1
            self.texts += len(texts)


def token_count(embedder: SentenceTransformerEmbedder, text: str) -> int:
    return len(embedder.model.tokenizer.encode(text).ids)


def reworded(sentence: str, opening: str) -> str:
    """The sentence with an opening phrase and without its first article: same content, not
    a word-for-word quote."""
    body = re.sub(r"\b(?:the|a|an) ", "", sentence, count=1, flags=re.I)
    return f"{opening} {body[0].lower()}{body[1:]}"


def build_rounds(  # type: ignore[no-untyped-def]
    corpus: Path, embedder: SentenceTransformerEmbedder, rounds: int, style: str
):
    """``rounds`` (answer, passages) pairs, each over different passages."""
    with (corpus / "corpus.jsonl").open(encoding="utf-8") as handle:
        texts = [" ".join(json.loads(line)["text"].split()) for line in handle]
    passages: list[str] = []
    running = ""
    for text in texts:
        running = f"{running} {text}".strip()
        if token_count(embedder, running) >= PASSAGE_TOKENS:
            passages.append(running)
            running = ""
        if len(passages) >= rounds * PASSAGES:
            break
    built = []
    for r in range(rounds):
        group = passages[r * PASSAGES : (r + 1) * PASSAGES]
        firsts = [p[s:e] for p in group for s, e in sentence_spans(p)[:1]]
        if style == "mixed":
            answer = (
                f"{firsts[0]} [1] {firsts[2]} [3] {reworded(firsts[3], 'In short,')} [4] "
                "The service is free for the first thirty days. [2]"
            )
        else:
            openings = ("In short,", "Also,", "Note that", "Besides,")
            answer = " ".join(f"{reworded(firsts[n], openings[n])} [{n + 1}]" for n in range(4))
        built.append((answer, group))
    return built


def measure(verifier: HeuristicVerifier, embedder: CountingEmbedder, rounds) -> None:  # type: ignore[no-untyped-def]
    """Verify each answer once (after five warm-up answers) and print the figures."""
    for answer, passages in rounds[:5]:  # warm-up: stemmer caches, ONNX batch shapes
        verify_answer(answer, passages, verifier)
    embedder.calls = embedder.texts = 0
    embedder.seconds = 0.0
    totals, lexical, cpu = [], [], []
    claims = 0
    for answer, passages in rounds[5:]:
        started, cpu_started = time.perf_counter(), time.process_time()
        result = verify_answer(answer, passages, verifier)
        totals.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        claims += len(result.verdicts)
        started = time.perf_counter()
        for number, text in enumerate(passages, start=1):
            analyse_passage(number, text)
        split_claims(answer)
        lexical.append((time.perf_counter() - started) * 1000)
    count = len(totals)
    cuts = statistics.quantiles(totals, n=20)
    print(
        f"  verify_answer: p50 {statistics.median(totals):.1f} ms  p95 {cuts[18]:.1f} ms  "
        f"({claims / count:.1f} claims per answer; CPU time of this process, all threads: "
        f"p50 {statistics.median(cpu):.1f} ms)"
    )
    print(
        f"    embedding: {embedder.calls / count:.1f} call(s), {embedder.texts / count:.1f} "
        f"texts, {embedder.seconds * 1000 / count:.1f} ms per answer (mean); passage analysis "
        f"and claim split alone: p50 {statistics.median(lexical):.1f} ms"
    )


def main() -> None:
    """Verify --rounds answers of each kind and print latency percentiles."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = parser.parse_args()
    real = SentenceTransformerEmbedder("bundled:all-MiniLM-L6-v2", REPO / "data" / "models")
    real.embed(["warm up"])
    embedder = CountingEmbedder(real)
    verifier = HeuristicVerifier(embedder)
    for style in ("mixed", "reworded"):
        rounds = build_rounds(args.corpus, real, args.rounds + 5, style)
        tokens = statistics.mean(token_count(real, p) for _, ps in rounds for p in ps)
        print(
            f"{style}: {args.rounds} answers, {PASSAGES} passages of {tokens:.0f} tokens (mean), "
            f"backend {real.backend}, load average {os.getloadavg()[0]:.2f}"
        )
        measure(verifier, embedder, rounds)


if __name__ == "__main__":
    main()
