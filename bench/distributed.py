"""Ingestion throughput of the distributed setup with 1 and 2 workers (`kb worker`).

Topology, all on 127.0.0.1 and stopped by PID at the end: a throwaway PostgreSQL
(``tests/support/postgres_server.py``: fsync off), a ``redis-server`` (the broker), a Chroma
server (``chroma run``), one API replica (``kb serve``) and N workers, started with the same
environment by ``tests/distributed/cluster.py``. A loopback site serves ``--pages`` pages, each
``--passages`` MS MARCO passages (~350 words); ``--crawls`` knowledge bases each crawl the whole
site at once (crawls are the jobs workers run), ``delay_s`` 0. Measured: wall time from the first
``POST /crawls`` to the last job ``succeeded``, pages and chunks ingested per second, and each
worker's peak RSS. Every configuration gets a fresh database; the bundled MiniLM embeds.

Usage: .venv/bin/python bench/distributed.py [--pages 40] [--crawls 4]
       [--configs 1x1,2x1,1x2]   (workers x concurrency each)
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from tests.distributed.cluster import Cluster, free_port  # noqa: E402
from tests.support.chroma_server import chroma  # noqa: E402
from tests.support.crawl_site import FixtureSite, serve  # noqa: E402
from tests.support.postgres_server import postgres  # noqa: E402
from tests.support.redis_server import _ping, _stop  # noqa: E402

CORPUS = REPO.parent / "shared" / "data" / "beir" / "msmarco"


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """redis-server on a free loopback port, persistence off."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", str(workdir)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not _ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit("redis-server did not start")
        time.sleep(0.05)
    return process, f"redis://127.0.0.1:{port}"


def build_site(pages: int, per_page: int) -> FixtureSite:
    """An index linking to ``pages`` pages of consecutive MS MARCO passages."""
    rows = [json.loads(line) for line in (CORPUS / "corpus.jsonl").open()]
    site = FixtureSite()
    links = "".join(f"<li><a href='/p{i}'>Page {i}</a></li>" for i in range(pages))
    site.html("/", f"<h1>Index</h1><ul>{links}</ul>", title="Index")
    for i in range(pages):
        chosen = rows[i * per_page : (i + 1) * per_page]
        body = "".join(f"<h2>{r.get('title') or 'Section'}</h2><p>{r['text']}</p>" for r in chosen)
        site.html(f"/p{i}", f"<h1>Page {i}</h1>{body}", title=f"Page {i}")
    return site


def environment(database_url: str, redis_url: str, chroma_server: Any) -> dict[str, str]:
    """The settings every process of the cluster shares."""
    return {
        "KB_STORAGE__DATABASE_URL": database_url,
        "KB_STORE__CHROMA_HOST": chroma_server.host,
        "KB_STORE__CHROMA_PORT": str(chroma_server.port),
        "KB_JOBS__BROKER_URL": f"{redis_url}/0",
        "KB_SECURITY__RATE_LIMIT": "",
        "KB_SECURITY__RATE_LIMIT_STORAGE": f"{redis_url}/1",
        "KB_SECURITY__TOKEN_SIGNING_KEY": secrets.token_urlsafe(48),
        "KB_SECURITY__ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "KB_CRAWL__ALLOWED_HOSTS": '["127.0.0.1"]',
        "KB_EMBEDDING__MODEL": "bundled:all-MiniLM-L6-v2",
        "KB_EMBEDDING__CACHE_DIR": str(REPO / "data" / "models"),
        "KB_LOG__FORMAT": "text",
        "KB_LOG__ACCESS_LOG": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


def compose_worker_check(cluster: Cluster) -> str:
    """Run deploy/compose.yaml's worker healthcheck command against the running workers."""
    import yaml

    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text())
    command = compose["services"]["worker"]["healthcheck"]["test"][1:]  # after "CMD"
    # The image puts its virtualenv first on PATH: so does this ("python" is the venv's).
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {**os.environ, **cluster.env, "PATH": path}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    return "passes" if done.returncode == 0 else f"FAILS ({done.stderr.strip()[-1500:]})"


def measure(cluster: Cluster, site: FixtureSite, workers: int, concurrency: int, crawls: int):
    """Start the API and the workers, run the crawls, return the figures."""
    cluster.run("migrate")
    secret = cluster.run("keys", "create", "--scope", "admin", "--name", "bench").strip()
    admin = {"Authorization": f"Bearer {secret.splitlines()[-1]}"}
    api = cluster.start_api("api")
    procs = [cluster.start_worker(f"w{i}", concurrency) for i in range(workers)]
    cluster.wait_api(api)
    for proc in procs:
        cluster.wait_worker(proc)
    print(f"  deploy/compose.yaml's worker healthcheck {compose_worker_check(cluster)}")
    with httpx.Client(base_url=api.url, headers=admin, timeout=60) as client:
        kb_ids = [
            client.post("/v1/kbs", json={"name": f"site{i}"}).json()["id"] for i in range(crawls)
        ]
        started = time.perf_counter()
        jobs = []
        for kb_id in kb_ids:
            body = {"start_urls": [site.base + "/"], "delay_s": 0, "concurrency": 2}
            answer = client.post(f"/v1/kbs/{kb_id}/crawls", json=body)
            assert answer.status_code == 202, answer.text
            jobs.append(answer.json()["id"])
        pending = set(jobs)
        while pending:
            for job_id in list(pending):
                job = client.get(f"/v1/jobs/{job_id}").json()
                if job["status"] not in ("queued", "running"):
                    assert job["status"] == "succeeded", job
                    pending.discard(job_id)
            time.sleep(0.2)
        wall = time.perf_counter() - started
        kbs = [client.get(f"/v1/kbs/{kb_id}").json() for kb_id in kb_ids]
    docs = sum(k["document_count"] for k in kbs)
    chunks = sum(k["chunk_count"] for k in kbs)
    rss = [vm_hwm_mb(p.pid) for p in procs]
    cluster.stop_all()
    cluster.processes.clear()
    return wall, docs, chunks, rss


def main() -> None:
    """Each configuration on a fresh database; one table at the end."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=40)
    parser.add_argument("--passages", type=int, default=6, help="MS MARCO passages per page.")
    parser.add_argument("--crawls", type=int, default=4, help="Knowledge bases crawling at once.")
    parser.add_argument("--configs", default="1x1,2x1,1x2", help="WORKERSxCONCURRENCY, ...")
    args = parser.parse_args()
    configs = [tuple(int(x) for x in c.split("x")) for c in args.configs.split(",")]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"cpu threads {os.cpu_count()}; load average at start {load}")
    site = build_site(args.pages, args.passages)
    rows = []
    with tempfile.TemporaryDirectory(prefix="kb-dist-bench-") as tmp_name:
        tmp = Path(tmp_name)
        redis, redis_url = start_redis(tmp)
        try:
            with postgres(tmp / "pg") as pg, chroma(tmp / "chroma") as server, serve(site):
                for n, (workers, concurrency) in enumerate(configs):
                    url = pg.create_database("bench")
                    work = tmp / f"cluster-{n}-{workers}x{concurrency}"
                    work.mkdir()
                    cluster = Cluster(environment(url, redis_url, server), work)
                    try:
                        wall, docs, chunks, rss = measure(
                            cluster, site, workers, concurrency, args.crawls
                        )
                    finally:
                        cluster.stop_all()
                    rows.append((workers, concurrency, wall, docs, chunks, rss))
                    print(
                        f"{workers} worker(s) x concurrency {concurrency}: {docs} pages, "
                        f"{chunks} chunks in {wall:.1f} s = {docs / wall:.2f} pages/s, "
                        f"{chunks / wall:.1f} chunks/s; worker peak RSS "
                        f"{', '.join(f'{r:.0f}' for r in rss)} MiB",
                        flush=True,
                    )
        finally:
            _stop(redis)
    print("\n| workers × concurrency | pages | chunks | wall s | pages/s | chunks/s |")
    print("|---|---|---|---|---|---|")
    for workers, concurrency, wall, docs, chunks, _ in rows:
        print(
            f"| {workers} × {concurrency} | {docs} | {chunks} | {wall:.1f} | "
            f"{docs / wall:.2f} | {chunks / wall:.1f} |"
        )


if __name__ == "__main__":
    main()
