"""`kb serve` against hostile and careless clients, on a real server in a subprocess: slow
clients are cut off, forwarded addresses are believed from trusted proxies only, the data
directory is owner-only, user ids stay out of the access log, titles lose their control and
bidirectional characters, and the docs pages load nothing from elsewhere and cannot be framed.

The waits here are hang guards (how long a broken server may take to fail the test), not timings.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import select
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import MODEL_CACHE, free_port

pytestmark = pytest.mark.slow

HANG_GUARD_S = 20.0
KB = Path(sys.executable).parent / "kb"


@dataclass(frozen=True)
class Served:
    """A running `kb serve`: its URL, port, data directory and stderr file."""

    url: str
    port: int
    data_dir: Path
    log: Path

    def log_lines(self) -> list[dict[str, object]]:
        """What the server logged so far (JSON lines)."""
        lines = self.log.read_text().splitlines()
        # Only the log's lines: a child process may print a traceback of its own to stderr.
        return [json.loads(line) for line in lines if line.startswith("{")]


@contextmanager
def kb_serve(workdir: Path, **env: str | None) -> Iterator[Served]:
    """`kb serve` on a free port of 127.0.0.1 with authentication and rate limits off unless
    ``env`` says otherwise (None drops a variable), started with the usual umask 022."""
    workdir.mkdir(parents=True, exist_ok=True)
    port, data_dir, log = free_port(), workdir / "data", workdir / "server.log"
    environ = os.environ | {
        "KB_STORAGE__DATA_DIR": str(data_dir),
        "KB_EMBEDDING__CACHE_DIR": str(MODEL_CACHE),
        "KB_SECURITY__AUTH_ENABLED": "false",
        "KB_SECURITY__RATE_LIMIT": "",
    }
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [str(KB), "serve", "--port", str(port)],
            cwd=workdir,
            env=environ,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            umask=0o022,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                httpx.get(f"{url}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, "kb serve did not start"
                time.sleep(0.2)
        yield Served(url, port, data_dir, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _read_until_closed(sock: socket.socket, feed: Callable[[], bytes] | None = None) -> bytes:
    """Everything the server sends until it closes the connection, sending ``feed()`` every
    quarter second until it answers; fails if the connection outlives the hang guard."""
    deadline = time.monotonic() + HANG_GUARD_S
    received = b""
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.25)
        if readable:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk
        elif feed is not None and not received:
            try:
                sock.sendall(feed())
            except (BrokenPipeError, ConnectionResetError):
                feed = None  # closed under us: read what it said
    pytest.fail(f"the connection stayed open for {HANG_GUARD_S} s")


def _status_and_body(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body) if body else {}


def _connect(served: Served) -> socket.socket:
    return socket.create_connection(("127.0.0.1", served.port), timeout=HANG_GUARD_S)


CAP = 8


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server with short deadlines and a small cap, shared by the slow-client tests."""
    with kb_serve(
        tmp_path_factory.mktemp("guarded"),
        KB_API__HEADER_TIMEOUT_S="2",
        KB_API__BODY_TIMEOUT_S="2",
        KB_API__MAX_CONNECTIONS_PER_ADDRESS=str(CAP),
    ) as served:
        yield served


def test_a_client_trickling_its_headers_is_answered_408_and_disconnected(
    guarded: Served,
) -> None:
    """Regression (security review): a client sending its headers a line at a time kept its
    connection open for as long as it liked (48 s+), never reaching the rate limiter."""
    with _connect(guarded) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        raw = _read_until_closed(sock, feed=lambda: b"X-Slow: 1\r\n")
    status, headers, body = _status_and_body(raw)
    assert status == 408 and headers["content-type"] == "application/problem+json"
    assert body["code"] == "request_timeout" and headers["connection"] == "close"


def test_a_connection_that_sends_nothing_is_closed(guarded: Served) -> None:
    """Regression (security review): a connection that never sent a byte stayed open."""
    with _connect(guarded) as sock:
        raw = _read_until_closed(sock)
    assert _status_and_body(raw)[0] == 408


def test_a_client_trickling_its_body_is_answered_408_and_disconnected(guarded: Served) -> None:
    """Regression (security review): a request body sent a byte at a time held the connection
    and the request for as long as the client liked."""
    with _connect(guarded) as sock:
        sock.sendall(
            b"POST /v1/kbs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400\r\n\r\n{"
        )
        raw = _read_until_closed(sock, feed=lambda: b" ")
    status, headers, body = _status_and_body(raw)
    assert status == 408 and headers["content-type"] == "application/problem+json"
    assert body["code"] == "request_timeout" and headers["connection"] == "close"
    assert body["request_id"] == headers["x-request-id"]  # answered by the app's middleware


def test_sixty_trickling_connections_are_capped_per_address_and_all_cut_off(
    guarded: Served,
) -> None:
    """Regression (security review): 60 connections trickling headers all stayed open; one
    address now holds at most the cap, the rest are refused at once, and all are closed."""
    socks = [_connect(guarded) for _ in range(60)]
    try:
        for sock in socks:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        statuses = [_status_and_body(_read_until_closed(sock))[0] for sock in socks]
    finally:
        for sock in socks:
            sock.close()
    assert statuses.count(429) >= 60 - CAP
    assert set(statuses) <= {408, 429} and 0 < statuses.count(408) <= CAP


def test_a_normal_client_still_works(guarded: Served) -> None:
    deadline = time.monotonic() + HANG_GUARD_S
    with httpx.Client(base_url=guarded.url, timeout=HANG_GUARD_S) as client:
        # The connections of the tests before may take a moment to be forgotten.
        while (health := client.get("/healthz")).status_code == 429:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert health.status_code == 200
        created = client.post("/v1/kbs", json={"name": "normal", "description": "x" * 4000})
        assert created.status_code == 201, created.text
        assert client.get(f"/v1/kbs/{created.json()['id']}").status_code == 200  # kept alive


_SOURCE = re.compile(r"""(?:src|href)="([^"]+)\"""")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_docs_pages_load_only_the_engines_own_files_and_cannot_be_framed(
    guarded: Served, page: str
) -> None:
    """Regression (security review): /docs and /redoc could be framed, and loaded Swagger UI and
    ReDoc from a CDN without integrity checks (a blank page on a server without Internet)."""
    with httpx.Client(base_url=guarded.url, timeout=HANG_GUARD_S) as client:
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        assert not re.search(r"https?://", html), "the page names another host"
        assert response.headers["x-frame-options"] == "DENY"
        directives = dict(
            (part.split()[0], part.split()[1:])
            for part in response.headers["content-security-policy"].split(";")
        )
        assert directives["frame-ancestors"] == ["'none'"]
        assert directives["default-src"] == ["'none'"]
        for name, sources in directives.items():
            for source in sources:
                allowed = {"'self'", "'none'", "data:", "blob:"}
                if name == "style-src":
                    allowed.add("'unsafe-inline'")
                assert source in allowed or source.startswith("'sha256-"), (name, source)
        for script in _INLINE_SCRIPT.findall(html):  # the page's own script may run
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in directives["script-src"]
        assets = _SOURCE.findall(html)
        assert page == "/docs/oauth2-redirect" or assets
        for asset in assets:
            assert not urlsplit(asset).netloc
            fetched = client.get(asset)
            assert fetched.status_code == 200 and len(fetched.content) > 1000, asset
    if page == "/docs":
        assert {a.rsplit("/", 1)[-1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}


def test_only_the_docs_files_are_served_from_the_assets_path(guarded: Served) -> None:
    assert httpx.get(f"{guarded.url}/docs-assets/swagger-ui.css").status_code == 200
    for path in ("/docs-assets/", "/docs-assets/../core.py", "/docs-assets/core.py"):
        assert httpx.get(f"{guarded.url}{path}").status_code == 404, path


def _audited_clients(client: httpx.Client, **headers: str) -> list[str | None]:
    page = client.get("/v1/audit", headers=headers)
    assert page.status_code == 200, page.text
    return [entry["client"] for entry in page.json()["items"]]


def test_a_spoofed_forwarded_for_changes_neither_the_audited_nor_the_rate_limited_address(
    tmp_path: Path,
) -> None:
    """Regression (security review): uvicorn believed X-Forwarded-For from 127.0.0.1 by default,
    so a spoofed address reached the audit log, and rotating it escaped the per-address limit."""
    with (
        kb_serve(tmp_path, KB_SECURITY__RATE_LIMIT="4/minute") as served,
        httpx.Client(base_url=served.url, timeout=HANG_GUARD_S) as client,
    ):
        for n in range(3):
            spoofed = {"X-Forwarded-For": f"203.0.113.{n + 1}"}
            assert client.post("/v1/kbs", json={"name": f"kb{n}"}, headers=spoofed).is_success
        clients = _audited_clients(client, **{"X-Forwarded-For": "203.0.113.9"})
        assert clients == ["127.0.0.1"] * 3
        rotated = client.post("/v1/kbs", json={"name": "kb9"}, headers={"X-Forwarded-For": "::9"})
        assert rotated.status_code == 429  # the fifth request of one address
    access = [line for line in served.log_lines() if line["logger"] == "kb.access"]
    assert {line["client"] for line in access} == {"127.0.0.1"}


def test_a_trusted_proxys_forwarded_for_is_honoured(tmp_path: Path) -> None:
    with (
        kb_serve(
            tmp_path,
            KB_API__TRUSTED_PROXIES='["127.0.0.1"]',
            KB_SECURITY__RATE_LIMIT="2/minute",
            KB_API__MAX_CONNECTIONS_PER_ADDRESS="2",
        ) as served,
        httpx.Client(base_url=served.url, timeout=HANG_GUARD_S) as client,
    ):
        first = {"X-Forwarded-For": "203.0.113.1"}
        assert client.post("/v1/kbs", json={"name": "a"}, headers=first).status_code == 201
        assert _audited_clients(client, **{"X-Forwarded-For": "203.0.113.2"}) == ["203.0.113.1"]
        third = {"X-Forwarded-For": "203.0.113.3"}
        statuses = [client.get("/v1/kbs", headers=third).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]  # each client behind the proxy has its own allowance
        assert client.get("/v1/kbs", headers={"X-Forwarded-For": "203.0.113.4"}).is_success
        # The proxy's own connections are not capped: it carries every client's.
        held = [_connect(served) for _ in range(3)]
        try:
            fourth = {"X-Forwarded-For": "203.0.113.5"}
            assert client.get("/v1/kbs", headers=fourth).status_code == 200
        finally:
            for sock in held:
                sock.close()


def _wide_open(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode) and mode & 0o077:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(root)}")
    return found


BIDI = "\u202e\u2066\u200f"


def test_the_data_directory_is_owner_only_after_a_real_ingest(tmp_path: Path) -> None:
    """Regression (security review): the SQLite files, Chroma's files and directories, the
    lexical index and the model cache were created 0644/0755, readable by every local user."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    (data_dir / "left-by-an-old-version.txt").write_text("x")
    os.chmod(data_dir / "left-by-an-old-version.txt", 0o644)
    with (
        # The model cache inside the data directory, extracted by this server (torch: no export).
        kb_serve(tmp_path, KB_EMBEDDING__CACHE_DIR=None, KB_EMBEDDING__BACKEND="torch") as served,
        httpx.Client(base_url=served.url, timeout=120) as client,
    ):
        kb_id = client.post("/v1/kbs", json={"name": "perms"}).json()["id"]
        upload = client.post(
            f"/v1/kbs/{kb_id}/documents",
            files={
                "file": ("hours.md", b"# Hours\n\nThe lobby opens at eight.\n", "text/markdown")
            },
        )
        assert upload.status_code == 201, upload.text
        assert client.post(f"/v1/kbs/{kb_id}/search", json={"query": "lobby"}).is_success
    for expected in ("kb.sqlite3", "lexical.sqlite3", "chroma", "models", "secret.key"):
        assert (data_dir / expected).exists(), expected
    assert _wide_open(data_dir) == []


def test_titles_and_sources_lose_nul_and_bidirectional_characters(tmp_path: Path) -> None:
    """Regression (security review): an upload's title or source could carry NUL and
    bidirectional overrides, so "invoice\u202efdp.exe" showed as "invoiceexe.pdf" in every
    list and citation."""
    with (
        kb_serve(tmp_path) as served,
        httpx.Client(base_url=served.url, timeout=120) as client,
    ):
        kb_id = client.post("/v1/kbs", json={"name": "labels"}).json()["id"]
        upload = client.post(
            f"/v1/kbs/{kb_id}/documents",
            files={"file": (f"hours{BIDI}.md", b"# Lobby\u202e hours\n\nOpen at eight.\n")},
            data={"title": f"invoice\u202efdp.exe\x00{BIDI}", "source": "share/\u2067a\x00b.md"},
        )
        assert upload.status_code == 201, upload.text
        document = upload.json()["document"]
        assert document["title"] == "invoicefdp.exe" and document["source"] == "share/ab.md"
        # Parsed titles too (the markdown heading), and the same source finds the document.
        text = {"title": None, "text": "# Parking\u202e\u2069 rules\n\nStaff park in lot B."}
        first = client.post(f"/v1/kbs/{kb_id}/documents", json=text | {"source": "p\u202e.md"})
        again = client.post(f"/v1/kbs/{kb_id}/documents", json=text | {"source": "p\u202e.md"})
        assert first.status_code == 201, first.text
        assert first.json()["document"]["title"] == "Parking rules"
        assert again.json()["outcome"] == "unchanged"
        hits = client.post(f"/v1/kbs/{kb_id}/search", json={"query": "lobby eight parking"})
        labels = [(hit["title"], hit["source"]) for hit in hits.json()["results"]]
        assert labels and ("invoicefdp.exe", "share/ab.md") in labels
        listed = client.get(f"/v1/kbs/{kb_id}/documents").json()["items"]
    for value in json.dumps([labels, listed], ensure_ascii=False):
        assert value not in BIDI + "\u202e\u2067\x00"


def test_user_ids_in_paths_are_not_in_the_access_log(tmp_path: Path) -> None:
    """Regression (security review): the access log wrote end users' ids (often e-mail
    addresses) from paths like /v1/users/{user_id}/profile at info level."""
    user = "alice.smith@example.com"
    with (
        kb_serve(tmp_path) as served,
        httpx.Client(base_url=served.url, timeout=HANG_GUARD_S) as client,
    ):
        kb_id = client.post("/v1/kbs", json={"name": "kept"}).json()["id"]
        profile_url = f"/v1/users/{user}/profile?kb_id={kb_id}"
        saved = client.put(profile_url, json={"name": "Alice"})
        assert saved.status_code == 200, saved.text
        assert client.get(profile_url).json()["name"] == "Alice"
        other_method = client.patch(profile_url, json={}).status_code  # a 405 names the path too
        assert client.get(f"/v1/kbs/{kb_id}").status_code == 200
    logged = served.log.read_text()
    assert user not in logged and "alice" not in logged
    access = [line for line in served.log_lines() if line["logger"] == "kb.access"]
    profile = [line for line in access if "/users/" in str(line["path"])]
    assert [line["status"] for line in profile] == [200, 200, other_method]
    assert {line["path"] for line in profile} == {"/v1/users/{user_id}/profile"}
    assert f"/v1/kbs/{kb_id}" in {line["path"] for line in access}  # other ids stay readable
