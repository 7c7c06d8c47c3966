"""A throwaway PostgreSQL 15 on 127.0.0.1 for the tests that run on PostgreSQL.

One server per session (``postgres_server``) on a free port, its data directory in a temporary
directory, fsync off (nothing it holds must survive a crash); stopped by its PID at the end.
Each test that wants it gets a database of its own (``postgres_url``), created empty and
migrated by the code under test. Run as root, initdb and the server run as the ``postgres``
system user (they refuse root). Tests that use it are skipped, with the reason, where the
binaries are absent (Debian package ``postgresql``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import pwd
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BIN = Path(os.environ.get("KB_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
NOT_INSTALLED = f"PostgreSQL binaries not found in {BIN} (apt-get install -y postgresql)"
DRIVER = "postgresql+psycopg"


def available() -> bool:
    """Whether initdb and postgres are installed where ``BIN`` says."""
    return (BIN / "initdb").exists() and (BIN / "postgres").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(user: str | None) -> dict[str, object]:
    """``Popen`` arguments running a command as ``user`` (root may not run PostgreSQL): the
    process is the server itself, not a wrapper, so its PID is the one stopped."""
    if user is None:
        return {}
    entry = pwd.getpwnam(user)
    env = {**os.environ, "HOME": entry.pw_dir, "USER": user, "LOGNAME": user}
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": [], "env": env}


def _chown(path: Path, user: str) -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


class PostgresServer:
    """A running server: its admin URL, and databases created on demand."""

    def __init__(self, port: int, user: str) -> None:
        self.port = port
        self.user = user

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server."""
        return f"{DRIVER}://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "kb") -> str:
        """A new empty database's URL."""
        import psycopg

        name = f"{prefix}_{secrets.token_hex(6)}"
        with psycopg.connect(self.url().replace(f"{DRIVER}://", "postgresql://")) as db:
            db.autocommit = True
            db.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, closing what is still connected to it."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url().replace(f"{DRIVER}://", "postgresql://")) as db:
            db.autocommit = True
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres(workdir: Path) -> Iterator[PostgresServer]:
    """Start PostgreSQL on a free 127.0.0.1 port with its data under ``workdir``; stop it after."""
    if not available():
        raise RuntimeError(NOT_INSTALLED)
    owner = "postgres" if os.geteuid() == 0 else None
    user = owner or pwd.getpwuid(os.geteuid()).pw_name
    data, sockets, log = workdir / "data", workdir / "sockets", workdir / "postgres.log"
    sockets.mkdir(parents=True, exist_ok=True)
    if owner:
        _chown(workdir, owner)
        # the server's user needs the parents traversable to reach the directory
        for parent in workdir.parents:
            if parent == Path("/"):
                break
            os.chmod(parent, os.stat(parent).st_mode | 0o011)
    initdb = [str(BIN / "initdb"), "-D", str(data), "-U", user, "-A", "trust", "-E", "UTF8",
              "--locale", "C.UTF-8", "--no-sync"]  # fmt: skip
    subprocess.run(initdb, check=True, capture_output=True, cwd=workdir, **_as_owner(owner))  # type: ignore[call-overload]
    port = _free_port()
    server_cmd = [str(BIN / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
                  "-k", str(sockets), "-c", "fsync=off", "-c", "synchronous_commit=off",
                  "-c", "full_page_writes=off", "-c", "max_connections=300"]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(  # type: ignore[call-overload]
            server_cmd, stdout=output, stderr=subprocess.STDOUT, cwd=workdir, **_as_owner(owner)
        )
    try:
        deadline = time.monotonic() + 60
        ready = [str(BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-q"]
        while subprocess.run(ready, check=False).returncode != 0:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield PostgresServer(port, user)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT (a fast shutdown) to the server's PID, SIGKILL after 20 s."""
    if process.poll() is not None:
        return
    os.kill(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server started for this session (skips when it is not installed)."""
    if not available():
        pytest.skip(NOT_INSTALLED)
    if os.geteuid() == 0 and not _has_user("postgres"):
        pytest.skip("running as root needs a 'postgres' user to start PostgreSQL as")
    # Not under pytest's temporary directory: pytest makes its root owner-only (0700) when a
    # session starts, and the server, another user, would lose its way to its data.
    with (
        tempfile.TemporaryDirectory(prefix="kb-postgres-") as workdir,
        postgres(Path(workdir)) as server,
    ):
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new empty database on the session's server, dropped after the test."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
