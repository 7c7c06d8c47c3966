"""Search latency at 100k chunks: embedded Chroma against a Chroma server, and the lexical index
(SQLite FTS5; PostgreSQL full-text search when ``kb.index.lexical_pg`` and PostgreSQL exist).

Method: 5,000 MS MARCO passages give 100k distinct chunk texts (``perf_corpus.generated_chunks``:
past the real passages, each chunk joins halves of two); the vectors are synthetic (each
passage gets a random unit 384-dim vector, each chunk the normalised mean of its two halves'
plus noise), which is fine for latency: HNSW's cost depends on the number and size of vectors,
not on what they mean. Both stores are filled through the project's own ``ChromaStore``
(``kb.index.vectors``) with texts kept in the lexical index, as the service does. Query vectors
are stored chunk vectors plus N(0, 0.02) noise. Each mode answers the same queries one at a
time (after 30 warm-up queries): ``query`` (40 nearest, what hybrid retrieval asks for) and
``query + get`` (the 5 kept chunks fetched, as a search does). The question's embedding is left
out: it is the same in both modes. Also printed: the Chroma server's RSS and data directory size
at each checkpoint (the sizing figures of docs/deployment.md), and the embedded write rate.

With ``--e2e``, also the whole hybrid search through ``build_container``, embedded against
PostgreSQL + a Chroma server (``bench/scale_e2e.py``, which says how).

Usage: .venv/bin/python bench/search_scale.py [--chunks 100000] [--checkpoints 50000]
       [--queries 400] [--skip-server] [--skip-embedded] [--e2e [--skip-stores]]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
from perf_corpus import generated_chunks  # noqa: E402
from perf_http import free_port  # noqa: E402

from kb.index.lexical import SqliteLexicalIndex  # noqa: E402
from kb.index.vectors import ChromaStore  # noqa: E402
from kb.models import Chunk, chunk_id, content_version  # noqa: E402

CORPUS = REPO.parent / "shared" / "data" / "beir" / "msmarco"
DIM = 384
KB_ID = "kb_scale"
BATCH = 5000


def rss_mb(pid: int) -> float:
    """Resident set size of a process now, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def du_mb(path: Path) -> float:
    """Bytes under ``path`` (apparent sizes), in MiB."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def make_chunks(passages: list[str], start: int, stop: int, rng: np.random.Generator, base):
    """Chunks ``start..stop`` (10 per generated document) with their synthetic vectors."""
    texts, vectors = generated_chunks(range(start, stop), passages, base, rng)
    chunks = []
    for offset, text in enumerate(texts):
        n = start + offset
        doc_id = f"doc_{n // 10:06d}"
        version = content_version(f"{n // 10:016x}")
        chunks.append(
            Chunk(
                id=chunk_id(doc_id, version, n % 10),
                kb_id=KB_ID,
                document_id=doc_id,
                version=version,
                index=n % 10,
                text=text,
                title=doc_id,
                source=f"generated:{doc_id}",
                media_type="text/plain",
                start_char=0,
                end_char=len(text),
            )
        )
    return chunks, vectors


def timed(fn: Callable[[], object], count: int, warmup: int = 30) -> list[float]:
    """Seconds per call of ``fn`` over ``count`` calls, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(label: str, seconds: list[float]) -> str:
    """``label  p50 / p99 ms`` of a list of durations."""
    ms = np.array(seconds) * 1000
    return (
        f"{label:<44} p50 {np.percentile(ms, 50):6.2f}  p99 {np.percentile(ms, 99):6.2f}  "
        f"mean {ms.mean():6.2f} ms  (n={len(ms)})"
    )


def fill(store: ChromaStore, lexical, args, passages, base, on_checkpoint) -> np.ndarray:
    """Write ``args.chunks`` chunks into the store (and the lexical index once); keeps a
    sample of stored vectors for queries."""
    rng = np.random.default_rng(7)
    sample = []
    checkpoints = sorted({*args.checkpoints, args.chunks})
    began = time.perf_counter()
    for start in range(0, args.chunks, BATCH):
        stop = min(start + BATCH, args.chunks)
        chunks, vectors = make_chunks(passages, start, stop, rng, base)
        if lexical is not None:
            lexical.add(KB_ID, chunks)
        store.add(KB_ID, chunks, vectors.tolist())
        sample.append(vectors[:: max(1, BATCH // 50)])
        if stop in checkpoints:
            elapsed = time.perf_counter() - began
            print(f"  {stop:>7} chunks written, {stop / elapsed:7.0f} chunks/s so far", flush=True)
            on_checkpoint(stop)
    return np.concatenate(sample)


def measure_dense(store: ChromaStore, sample: np.ndarray, count: int, label: str) -> None:
    """p50/p99 of query (k=40) and of query + get (5 kept) on the filled store."""
    rng = np.random.default_rng(11)
    picks = iter(range(10**9))

    def vector() -> list[float]:
        v = sample[next(picks) % len(sample)] + rng.normal(0, 0.02, DIM)
        return (v / np.linalg.norm(v)).tolist()

    print(summary(f"{label}: query k=40", timed(lambda: store.query(KB_ID, vector(), 40), count)))

    def search() -> None:
        hits = store.query(KB_ID, vector(), 40)
        store.get(KB_ID, [h.chunk_id for h in hits[:5]])

    print(summary(f"{label}: query k=40 + get 5", timed(search, count)), flush=True)


def measure_lexical(index, queries: list[str], count: int, label: str) -> None:
    """p50/p99 of a BM25 search (k=40) over the MS MARCO questions, cycled."""
    cycle = iter(range(10**9))
    seconds = timed(lambda: index.search(KB_ID, queries[next(cycle) % len(queries)], 40), count)
    print(summary(f"{label}: search k=40", seconds), flush=True)


def start_chroma(path: Path, log: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``chroma run`` on a free loopback port; waits for its heartbeat."""
    import httpx

    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    command = [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port)], stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"chroma run exited ({proc.returncode}):\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).is_success:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    sys.exit("chroma run did not answer within 60 s")


def run_embedded(args, tmp: Path, passages, base, lexical) -> None:
    """Fill and query embedded Chroma (this process)."""
    print("\nembedded Chroma (PersistentClient in this process)")
    store = ChromaStore(path=tmp / "chroma", texts=lexical)
    before = rss_mb(os.getpid())

    def checkpoint(n: int) -> None:
        print(
            f"  {n:>7} chunks: this process RSS +{rss_mb(os.getpid()) - before:.0f} MiB, "
            f"chroma/ {du_mb(tmp / 'chroma'):.0f} MiB, lexical {du_mb(tmp / 'lex'):.0f} MiB"
        )

    sample = fill(store, lexical, args, passages, base, checkpoint)
    measure_dense(store, sample, args.queries, "embedded")
    checkpoint(args.chunks)
    store.close()


def run_server(args, tmp: Path, passages, base, lexical) -> None:
    """Fill and query a Chroma server (``chroma run``) on loopback; stopped by PID at the end."""
    path = tmp / "chroma-server"
    proc, port = start_chroma(path, tmp / "chroma.log")
    print(f"\nChroma server (chroma run, pid {proc.pid}, 127.0.0.1:{port}), idle RSS ", end="")
    print(f"{rss_mb(proc.pid):.0f} MiB")
    try:
        store = ChromaStore(host="127.0.0.1", port=port, texts=lexical)

        def checkpoint(n: int) -> None:
            print(
                f"  {n:>7} chunks: server RSS {rss_mb(proc.pid):.0f} MiB, data dir "
                f"{du_mb(path):.0f} MiB"
            )

        # The lexical index is already filled by the embedded run when both run.
        sample = fill(
            store, None if args.lexical_filled else lexical, args, passages, base, checkpoint
        )
        measure_dense(store, sample, args.queries, "server")
        checkpoint(args.chunks)
        store.close()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--checkpoints", default="50000", help="Comma-separated chunk counts.")
    parser.add_argument("--queries", type=int, default=400, help="Measured queries per row.")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument(
        "--e2e",
        action="store_true",
        help="Also the end-to-end hybrid search, embedded vs PostgreSQL + Chroma server "
        "(bench/scale_e2e.py; embeds the passages with MiniLM first).",
    )
    parser.add_argument("--skip-stores", action="store_true", help="Only the --e2e part.")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    args.checkpoints = [int(c) for c in args.checkpoints.split(",") if c.strip()]
    return args


def main() -> None:
    """Fill both stores and print the latency table."""
    args = parse_args()
    if not (args.corpus / "corpus.jsonl").exists():
        sys.exit(f"skipped: {args.corpus} is absent")
    rows = [json.loads(line) for line in (args.corpus / "corpus.jsonl").open()]
    passages = [f"{r.get('title', '')}\n{r['text']}".strip() for r in rows]
    queries = [json.loads(line)["text"] for line in (args.corpus / "queries.jsonl").open()]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"cpu threads {os.cpu_count()}; load average at start {load}; {args.chunks} chunks")
    if not args.skip_stores:
        run_stores(args, passages, queries)
    if args.e2e:
        from scale_e2e import run

        run(passages, queries, args.chunks, args.queries)


def run_stores(args: argparse.Namespace, passages: list[str], queries: list[str]) -> None:
    """The vector stores alone (synthetic vectors), then the FTS5 index."""
    base = np.random.default_rng(3).normal(size=(len(passages), DIM))
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    tmp = Path(tempfile.mkdtemp(prefix="kb-scale-"))
    try:
        (tmp / "lex").mkdir()
        lexical = SqliteLexicalIndex(tmp / "lex" / "lexical.sqlite3")
        args.lexical_filled = False
        if not args.skip_embedded:
            run_embedded(args, tmp, passages, base, lexical)
            args.lexical_filled = True
        if not args.skip_server:
            run_server(args, tmp, passages, base, lexical)
            args.lexical_filled = True
        print("\nlexical index")
        measure_lexical(lexical, queries, args.queries, "SQLite FTS5")
        lexical.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
