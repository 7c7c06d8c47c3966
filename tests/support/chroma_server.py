"""A throwaway Chroma server (``chroma run``, installed with chromadb) on 127.0.0.1.

``chroma(workdir)`` starts one on a free port with its data under ``workdir`` and stops it, by
its PID, after; the ``chroma_server`` fixture is one such server for the whole session (each
knowledge base is a collection of its own, so tests sharing it do not meet). Skipped, with the
reason, where the ``chroma`` command is missing.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

CHROMA = Path(sys.executable).with_name("chroma")  # the CLI chromadb installs
NOT_INSTALLED = f"no chroma CLI at {CHROMA} (installed with chromadb)"


@dataclass(frozen=True)
class ChromaServer:
    """A running Chroma server: where it listens and where it keeps its data."""

    host: str
    port: int
    data: Path

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://{self.host}:{self.port}"


def available() -> bool:
    """Whether the ``chroma`` command is installed beside this interpreter."""
    return CHROMA.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def chroma(workdir: Path) -> Iterator[ChromaServer]:
    """Run ``chroma run`` on a free 127.0.0.1 port with its data in ``workdir``; stop it after."""
    if not available():
        raise RuntimeError(NOT_INSTALLED)
    workdir.mkdir(parents=True, exist_ok=True)
    port, data, log_path = _free_port(), workdir / "chroma-server", workdir / "chroma.log"
    command = [str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = log_path.read_text()
                    raise RuntimeError(f"chroma run did not start: {output}") from None
                time.sleep(0.1)
        yield ChromaServer("127.0.0.1", port, data)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A Chroma server started for this session (skips when chroma is not installed)."""
    if not available():
        pytest.skip(NOT_INSTALLED)
    with chroma(tmp_path_factory.mktemp("chroma")) as server:
        yield server
