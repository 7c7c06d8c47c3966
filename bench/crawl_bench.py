"""Crawl a generated local site of a few thousand pages, politeness delays off; print pages/s
end to end (fetch, parse, chunk, embed, store), and how soon starting a crawl returns.

With ``--delay S`` (a few hundred pages are enough) it also prints the gaps between requests as
the site saw them, which the delay must keep apart (figures the tests do not time: they check
the gate on a fake clock, tests/ingest/crawl/test_units.py).

Usage: .venv/bin/python bench/crawl_bench.py [--pages N] [--concurrency C] [--delay S]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.container import build_container  # noqa: E402
from kb.settings import Settings  # noqa: E402

WORDS = [
    "sensor",
    "calibration",
    "voltage",
    "module",
    "firmware",
    "bracket",
    "valve",
    "pressure",
    "thermal",
    "gauge",
    "cable",
    "housing",
    "relay",
    "filter",
    "pump",
    "rotor",
    "display",
    "battery",
    "antenna",
    "mount",
    "seal",
    "spring",
    "clamp",
    "lens",
    "probe",
    "socket",
    "switch",
    "timer",
    "meter",
    "panel",
    "gear",
    "shaft",
    "bearing",
    "coupling",
    "nozzle",
    "hose",
    "flange",
]


ARRIVALS = "/__arrivals"  # the bench's own question to its site, never linked


def make_site(pages: int, seed: int = 7) -> dict[str, bytes]:
    """Pages of ~120 distinct words linking to a few others, plus robots.txt and a sitemap."""
    rng = random.Random(seed)
    site: dict[str, bytes] = {}
    for i in range(pages):
        paragraphs = [
            " ".join(rng.choice(WORDS) for _ in range(40))
            + f" Part {i}-{p} rated {rng.random():.4f}."
            for p in range(3)
        ]
        links = {(i * 2 + 1) % pages, (i * 2 + 2) % pages, rng.randrange(pages)}
        anchors = "".join(f"<a href='/p/{j}'>page {j}</a> " for j in sorted(links))
        body = "".join(f"<p>{text}</p>" for text in paragraphs)
        site[f"/p/{i}"] = (
            f"<!doctype html><html><head><title>Part {i}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><main><h1>Part {i}</h1>{body}{anchors}</main>"
            "<footer>Bench Corp</footer></body></html>"
        ).encode()
    site["/"] = site["/p/0"]
    site["/robots.txt"] = b"User-agent: *\nAllow: /\n"
    return site


def _serve_forever(site: dict[str, bytes], ports: multiprocessing.Queue[int]) -> None:
    arrivals: list[float] = []  # when each request came in, answered at ARRIVALS

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == ARRIVALS:
                body = json.dumps(arrivals).encode()
            else:
                arrivals.append(time.monotonic())
                body = site.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ports.put(server.server_address[1])
    server.serve_forever()


def serve(site: dict[str, bytes]) -> tuple[multiprocessing.Process, str]:
    """Serve the site on 127.0.0.1 from another process (a real site does not share our GIL)."""
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    process = multiprocessing.Process(target=_serve_forever, args=(site, ports), daemon=True)
    process.start()
    return process, f"http://127.0.0.1:{ports.get(timeout=30)}"


def main() -> None:
    """Generate, serve, crawl, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds between requests.")
    args = parser.parse_args()
    server, base = serve(make_site(args.pages))
    with tempfile.TemporaryDirectory() as tmp:
        # The repository's model cache: the bundled model is extracted and exported once.
        settings = Settings(
            storage={"data_dir": Path(tmp)}, embedding={"cache_dir": REPO / "data" / "models"}
        )
        settings.crawl.allowed_hosts = ["127.0.0.1"]
        container = build_container(settings)
        container.embedder.embed(["warm up"])  # model loading is not crawling
        kb = container.catalog.create_kb("bench")
        started = time.perf_counter()
        job = container.crawls.start(
            kb.id,
            [base + "/"],
            max_pages=args.pages + 10,
            max_depth=1000,
            concurrency=args.concurrency,
            delay_s=args.delay,
        )
        start_ms = (time.perf_counter() - started) * 1000
        container.crawls.wait(job.id)
        elapsed = time.perf_counter() - started
        job = container.crawls.get(kb.id, job.id)
        chunks = sum(d.chunk_count for d in container.catalog.list_documents(kb.id, 100_000, 0)[0])
        container.close()
    with urllib.request.urlopen(base + ARRIVALS, timeout=30) as answer:
        arrivals = json.loads(answer.read())
    server.terminate()
    server.join()
    counts = job.counts
    print(f"status            {job.status}")
    print(
        f"pages ingested    {counts.ingested} (fetched {counts.fetched}, skipped {counts.skipped})"
    )
    print(f"passages          {chunks} ({chunks / max(counts.ingested, 1):.2f} per page)")
    print(f"wall time         {elapsed:.1f} s")
    print(f"pages/s           {counts.ingested / elapsed:.1f} (end to end, including embedding)")
    print(f"start returned    {start_ms:.1f} ms (the API answers 202 then)")
    if args.delay > 0 and len(arrivals) > 2:
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        print(
            f"request gaps      min {min(gaps) * 1000:.1f} ms, median "
            f"{statistics.median(gaps) * 1000:.1f} ms (delay {args.delay * 1000:.0f} ms; "
            "measured where requests arrive, so scheduling jitter shows)"
        )


if __name__ == "__main__":
    main()
