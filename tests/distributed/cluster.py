"""The distributed topology as real processes: API replicas (``kb serve``) and workers
(``kb worker``) on one PostgreSQL, one Redis (broker and rate limits) and one Chroma server,
each process started with the same environment and stopped (or killed) by its PID."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
KB = Path(sys.executable).with_name("kb")
# Until the lexical index lives in PostgreSQL, it is the SQLite FTS5 file under DATA_DIR,
# which every process of the test (one machine) then shares; with it, each gets its own.
LEXICAL_IN_POSTGRES = importlib.util.find_spec("kb.index.lexical_pg") is not None


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Process:
    """One process of the cluster: its name, PID, log file and (for replicas) base URL."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.popen.poll() is None

    def output(self) -> str:
        """What it wrote so far."""
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no acknowledgement, as when a machine dies."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 20 s."""
        if not self.alive():
            return
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Cluster:
    """Starts replicas and workers with the shared environment ``env``."""

    env: dict[str, str]
    workdir: Path
    processes: list[Process] = field(default_factory=list)

    def _environment(self, name: str) -> dict[str, str]:
        data = self.workdir / (name if LEXICAL_IN_POSTGRES else "shared")
        return {**os.environ, **self.env, "KB_STORAGE__DATA_DIR": str(data)}

    def run(self, *args: str) -> str:
        """Run a ``kb`` command to completion with the cluster's environment; its stdout."""
        done = subprocess.run(
            [str(KB), *args],
            env=self._environment("cli"),
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"kb {' '.join(args)}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def _start(self, name: str, args: list[str]) -> Process:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as output:
            popen = subprocess.Popen(
                [str(KB), *args],
                env=self._environment(name),
                cwd=REPO,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log)
        self.processes.append(process)
        return process

    def start_api(self, name: str) -> Process:
        """An API replica on a free port (``wait_api`` waits for it to be ready)."""
        port = free_port()
        process = self._start(name, ["serve", "--host", "127.0.0.1", "--port", str(port)])
        process.url = f"http://127.0.0.1:{port}"
        return process

    @staticmethod
    def wait_api(process: Process) -> Process:
        """Return once the replica answers /readyz."""
        name = process.name
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(process.url + "/readyz", timeout=30).status_code == 200:
                    return process
            except httpx.HTTPError:
                pass
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{process.output()[-4000:]}")
            time.sleep(0.2)

    def start_worker(self, name: str, concurrency: int = 2) -> Process:
        """A ``kb worker`` (``wait_worker`` waits for it to be ready)."""
        return self._start(name, ["worker", "--concurrency", str(concurrency)])

    @staticmethod
    def wait_worker(process: Process) -> Process:
        """Return once Celery says the worker is ready."""
        name = process.name
        deadline = time.monotonic() + 180
        while "ready." not in process.output():
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start:\n{process.output()[-4000:]}")
            time.sleep(0.2)
        return process

    def stop_all(self) -> None:
        """Stop every process still running, by PID."""
        for process in reversed(self.processes):
            process.stop()
