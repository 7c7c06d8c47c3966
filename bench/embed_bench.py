"""Embedding speed and quality, fp32 torch against int8 ONNX, in one run on the same machine.

Prints the one-off ONNX export time; nDCG@10 of dense retrieval (cosine over every passage) on
the shared BEIR MS MARCO sample for both backends; passages/s while embedding that corpus; and
chunks/s for ~200-token chunks at several batch sizes (best of --repeats rounds, the backends
taking turns, since the machine is shared and interference only ever slows a run down).

The nDCG and corpus figures use the default batching (16 texts, and for onnx-int8 at most 512
tokens per batch); the chunk table batches by count, then (last row) by the token budget.

Usage: .venv/bin/python bench/embed_bench.py [--chunks 256] [--batch-sizes 2,4,8,16]
       [--batch-tokens 512]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is local; never reach a hub
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from engine.evaluation import BeirCollection, load_beir, ndcg_at  # noqa: E402
from kb.embeddings.sentence_transformer import (  # noqa: E402
    Backend,
    SentenceTransformerEmbedder,
    extract_bundled_minilm,
)

DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "beir" / "msmarco"
BACKENDS: tuple[Backend, ...] = ("torch", "onnx-int8")
CHUNK_TOKENS = 198  # plus [CLS] and [SEP]: 200 tokens as the model sees them


def dense_ndcg(
    embedder: SentenceTransformerEmbedder, collection: BeirCollection, corpus: np.ndarray
) -> float:
    """Mean nDCG@10 (the project's metric) of ranking every passage by cosine to the query."""
    judged = collection.judged_queries()
    queries = np.array(embedder.embed([text for _, text in judged]))
    ids = [doc["_id"] for doc in collection.corpus]
    total = 0.0
    for (query_id, _), scores in zip(judged, queries @ corpus.T, strict=True):
        ranked = [ids[i] for i in np.argsort(-scores)[:10]]
        total += ndcg_at(ranked, collection.qrels[query_id], 10)
    return total / len(judged)


def make_chunks(
    embedder: SentenceTransformerEmbedder, passages: list[str], count: int
) -> list[str]:
    """``count`` chunks of ~200 model tokens cut from the concatenated passages."""
    tokens: list[int] = []
    for passage in passages:
        tokens += embedder.count_tokens(passage)
        if len(tokens) >= count * CHUNK_TOKENS:
            break
    tokenizer = embedder.model.tokenizer
    cut = range(0, count * CHUNK_TOKENS, CHUNK_TOKENS)
    return [tokenizer.decode(tokens[i : i + CHUNK_TOKENS]) for i in cut]


def best_rates(
    embedders: list[SentenceTransformerEmbedder], texts: list[str], repeats: int
) -> list[float]:
    """Best texts/s of each embedder over ``repeats`` rounds, taking turns within a round.

    Taking turns gives every embedder the same share of quiet and busy moments on a shared
    machine; the best round is the one least disturbed.
    """
    for embedder in embedders:
        embedder.embed(texts[:8])  # warm-up: lazy loading and first-call allocations
    best = [math.inf] * len(embedders)
    for _ in range(repeats):
        for i, embedder in enumerate(embedders):
            start = time.perf_counter()
            embedder.embed(texts)
            best[i] = min(best[i], time.perf_counter() - start)
    return [len(texts) / seconds for seconds in best]


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--chunks", type=int, default=256, help="~200-token chunks to embed.")
    parser.add_argument("--batch-sizes", default="2,4,8,16")
    parser.add_argument("--batch-tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not (args.corpus / "corpus.jsonl").exists():
        sys.exit(f"skipped: {args.corpus} is absent (the shared data sets live beside the repo)")
    model_dir = str(extract_bundled_minilm(REPO / "data" / "models"))
    collection = load_beir(args.corpus)
    passages = [
        f"{d['title']}\n{d['text']}" if d["title"] else d["text"] for d in collection.corpus
    ]
    judged = len(collection.judged_queries())
    print(f"cpu threads {os.cpu_count()}; {len(passages)} passages, {judged} judged queries")

    with tempfile.TemporaryDirectory() as cache:  # a fresh cache, so the export is timed

        def embedder(
            backend: Backend, batch_size: int = 16, batch_tokens: int | None = args.batch_tokens
        ) -> SentenceTransformerEmbedder:
            return SentenceTransformerEmbedder(
                model_dir,
                Path(cache),
                batch_size=batch_size,
                backend=backend,
                batch_tokens=batch_tokens,
            )

        start = time.perf_counter()
        embedder("onnx-int8").embed(["export"])
        print(f"onnx-int8 export (once, then cached): {time.perf_counter() - start:.1f} s\n")

        print("backend     nDCG@10  passages/s (corpus, default batching)")
        for backend in BACKENDS:
            model = embedder(backend)
            model.embed(["warm up"])
            start = time.perf_counter()
            corpus = np.array(model.embed(passages))
            speed = len(passages) / (time.perf_counter() - start)
            ndcg = dense_ndcg(model, collection, corpus)
            print(f"{backend:<10}  {ndcg:.4f}   {speed:7.1f}")

        chunks = make_chunks(embedder("torch"), passages, args.chunks)
        print(f"\nchunks/s, {len(chunks)} chunks of ~200 tokens (best of {args.repeats})")
        print("batch    " + "  ".join(f"{b:>10}" for b in BACKENDS) + "   speed-up")
        rows = [(str(b), int(b), None) for b in args.batch_sizes.split(",")]
        rows.append((f"{args.batch_tokens} tok", 16, args.batch_tokens))
        for label, batch_size, budget in rows:
            embedders = [embedder(backend, batch_size, budget) for backend in BACKENDS]
            torch_rate, onnx_rate = best_rates(embedders, chunks, args.repeats)
            print(
                f"{label:>7}  {torch_rate:>10.1f}  {onnx_rate:>10.1f}   "
                f"{onnx_rate / torch_rate:5.2f}x"
            )


if __name__ == "__main__":
    main()
