"""perf_bench (b) and (c): ``kb serve`` in a subprocess on 127.0.0.1, searches over HTTP, and the
server's peak RSS."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    repo: Path, data_dir: Path, model_cache: Path, log: Path
) -> tuple[subprocess.Popen[bytes], str]:
    """``kb serve`` (from ``repo``) on a free port of 127.0.0.1 against ``data_dir``; waits until
    it answers."""
    port = free_port()
    env = {
        **os.environ,
        "KB_STORAGE__DATA_DIR": str(data_dir),
        "KB_EMBEDDING__CACHE_DIR": str(model_cache),
        "KB_SECURITY__RATE_LIMIT": "",  # a benchmark is not abuse
    }
    command = [
        sys.executable,
        "-m",
        "api.cli.main",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited ({server.returncode}); see {log}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.kill()
    sys.exit("the server did not start within 120 s")


async def measure(
    url: str,
    headers: dict[str, str],
    kb_id: str,
    queries: list[str],
    requests: int,
    concurrency: int,
) -> tuple[list[float], float]:
    """Latencies (s) of ``requests`` searches sent ``concurrency`` at a time, and the wall time."""
    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            for i in counter:
                body = {"query": queries[i % len(queries)], "top_k": 5}
                start = time.perf_counter()
                response = await client.post(f"/v1/kbs/{kb_id}/search", json=body)
                latencies.append(time.perf_counter() - start)
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile in milliseconds."""
    return float(np.percentile(values, q)) * 1000


def vm_hwm_mb(pid: int) -> float:
    """Peak resident set size of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def search_table(
    url: str,
    headers: dict[str, str],
    kb_ids: dict[int, str],
    queries: list[str],
    requests: int,
    server_pid: int,
) -> dict[tuple[int, int], list[float]]:
    """Print p50/p95/p99, req/s and the server's CPU time per search, per knowledge base size
    at concurrency 1 and 8, after 20 warm-up searches each; returns the latencies by (size,
    concurrency)."""
    results: dict[tuple[int, int], list[float]] = {}
    print(
        f"{'chunks':>7} {'conc':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'req/s':>7}"
        f" {'server CPU ms/req':>18}"
    )
    for size, kb_id in kb_ids.items():
        asyncio.run(measure(url, headers, kb_id, queries, 20, 1))  # warm-up
        for concurrency in (1, 8):
            cpu = cpu_seconds(server_pid)
            latencies, seconds = asyncio.run(
                measure(url, headers, kb_id, queries, requests, concurrency)
            )
            cpu = cpu_seconds(server_pid) - cpu
            results[size, concurrency] = latencies
            print(
                f"{size:>7} {concurrency:>5} {percentile(latencies, 50):8.1f} "
                f"{percentile(latencies, 95):8.1f} {percentile(latencies, 99):8.1f} "
                f"{len(latencies) / seconds:7.1f} {cpu / len(latencies) * 1000:18.1f}"
            )
    return results


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 20 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def search_while_ingesting(
    url: str,
    headers: dict[str, str],
    kb: tuple[int, str],
    queries: list[str],
    requests: int,
    passages: list[str],
    per_upload: int = 3,
) -> None:
    """Print search latency at concurrency 1 on ``kb`` (chunks, id) while another client uploads
    documents of ``per_upload`` passages each into a new knowledge base, one after another: what
    a chat sees while the same server ingests."""
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        created = client.post("/v1/kbs", json={"name": f"ingest-during-search-{per_upload}"})
        created.raise_for_status()
        target = created.json()["id"]
        stop = threading.Event()
        uploads: list[float] = []

        def upload() -> None:
            for i in itertools.count():
                if stop.is_set():
                    return
                first = per_upload * i
                text = "\n\n".join(passages[(first + j) % len(passages)] for j in range(per_upload))
                start = time.perf_counter()
                response = client.post(
                    f"/v1/kbs/{target}/documents", json={"title": f"page {i}", "text": text}
                )
                response.raise_for_status()
                uploads.append(time.perf_counter() - start)

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        time.sleep(2)  # the uploads are under way
        started = len(uploads)
        latencies, seconds = asyncio.run(measure(url, headers, kb[1], queries, requests, 1))
        done = len(uploads) - started
        stop.set()
        uploader.join(timeout=120)
    print(
        f"{kb[0]:>7} {'1':>5} {percentile(latencies, 50):8.1f} {percentile(latencies, 95):8.1f} "
        f"{percentile(latencies, 99):8.1f} {len(latencies) / seconds:7.1f}   while ingesting "
        f"{done / seconds:.1f} uploads/s ({per_upload} passages each) on the same server"
    )
