"""Structured logs: one JSON line per request carrying the request id the response carried, the
route template, and never a secret; request ids on every kind of response."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from api.log_config import configure_logging, redact
from api.request_id import REQUEST_ID_HEADER
from kb.settings.service import LogSettings
from tests.conftest import MODEL_CACHE, free_port

Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged during the test, through the JSON handler of ``kb serve``."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(LogSettings(), stream=stream)
    yield stream
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)


@pytest.fixture
def log_lines(log_output: io.StringIO) -> Lines:
    """A function parsing what was logged so far: every line must be one JSON object."""
    return lambda: [json.loads(line) for line in log_output.getvalue().splitlines()]


def _access(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line for line in lines if line["logger"] == "kb.access"]


def test_each_request_logs_one_json_line_with_its_id_and_route_template(
    client: TestClient, auth_headers: dict[str, str], log_lines: Lines
) -> None:
    kb_id = client.post("/v1/kbs", json={"name": "handbook"}).json()["id"]
    response = client.get(f"/v1/kbs/{kb_id}", params={"verbose": "1"})
    request_id = response.headers[REQUEST_ID_HEADER]
    mine = [line for line in _access(log_lines()) if line.get("request_id") == request_id]
    assert len(mine) == 1
    line = mine[0]
    assert line["route"] == "/v1/kbs/{kb_id}" and line["path"] == f"/v1/kbs/{kb_id}"
    assert line["method"] == "GET" and line["status"] == 200 and line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float) and line["client"] == "testclient"
    prefix = auth_headers["Authorization"].removeprefix("Bearer ")[:16]
    assert line["key_prefix"] == prefix
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["ts"])
    assert "verbose" not in json.dumps(line)  # no query strings


def test_unknown_paths_are_logged_as_unmatched(client: TestClient, log_lines: Lines) -> None:
    response = client.get("/v1/nothing/here")
    assert response.status_code == 404
    (line,) = _access(log_lines())
    assert line["route"] == "unmatched" and line["status"] == 404
    assert line["request_id"] == response.headers[REQUEST_ID_HEADER]


def test_no_secret_reaches_the_logs(
    container: Container, auth_headers: dict[str, str], log_output: io.StringIO
) -> None:
    admin_secret = auth_headers["Authorization"].removeprefix("Bearer ")
    app_client = TestClient(create_app(container), raise_server_exceptions=False)
    with app_client as client:
        created = client.post("/v1/keys", json={"scopes": ["chat"]}, headers=auth_headers)
        new_secret = created.json()["secret"]
        assert client.get(f"/v1/kbs?key={admin_secret}", headers=auth_headers).status_code == 200
        assert client.get("/v1/kbs/missing", headers=auth_headers).status_code == 404
        wrong = {"X-API-Key": new_secret + "x"}
        assert client.get("/v1/kbs", headers=wrong).status_code == 401
        bad = client.post("/v1/kbs", json={"name": new_secret, "x": 1}, headers=auth_headers)
        assert bad.status_code < 500
    # Defense in depth: a secret that reaches a log call by mistake is masked.
    logging.getLogger("tests").warning("oops %s", f"Authorization: Bearer {admin_secret}")
    logging.getLogger("tests").error("key was %s", new_secret, extra={"detail": new_secret})
    logged = log_output.getvalue()
    assert len(_access([json.loads(x) for x in logged.splitlines()])) == 5
    assert admin_secret not in logged and new_secret not in logged
    assert admin_secret[:16] + "_[REDACTED]" in logged  # the public prefix stays readable


def test_an_unexpected_error_is_logged_with_its_request_id_and_no_secret(
    container: Container,
    auth_headers: dict[str, str],
    log_lines: Lines,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = auth_headers["Authorization"].removeprefix("Bearer ")

    def broken(*_args: object) -> None:
        raise RuntimeError(f"database said no to {secret}")

    monkeypatch.setattr(container.catalog, "list_kbs", broken)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        response = client.get("/v1/kbs", headers=auth_headers)
    assert response.status_code == 500 and response.json()["code"] == "internal_error"
    request_id = response.headers[REQUEST_ID_HEADER]
    assert response.json()["request_id"] == request_id
    lines = log_lines()
    assert secret not in json.dumps(lines)
    (failure,) = [line for line in lines if line["msg"] == "unhandled error"]
    assert failure["level"] == "ERROR" and failure["request_id"] == request_id
    assert "RuntimeError: database said no to" in failure["exc"]
    (access,) = _access(lines)
    assert access["status"] == 500 and access["request_id"] == request_id


def test_a_sane_incoming_request_id_is_kept_and_others_replaced(client: TestClient) -> None:
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-42:a.b_c"})
    assert kept.headers[REQUEST_ID_HEADER] == "edge-42:a.b_c"
    for insane in ("x" * 129, "a b", "<script>", "../etc", "a;b"):
        replaced = client.get("/healthz", headers={"X-Request-ID": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers[REQUEST_ID_HEADER]), insane
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.headers[REQUEST_ID_HEADER] != second.headers[REQUEST_ID_HEADER]


def test_errors_carry_the_request_id_in_header_and_body(container: Container) -> None:
    container.settings.api.max_json_bytes = 1000
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        for response in (
            client.get("/nowhere"),  # 404 from the router
            client.get("/v1/kbs"),  # 401 from the auth dependency
            client.post("/v1/kbs", content=b"{" + b" " * 2000 + b"}"),  # 413 before routing
        ):
            assert response.status_code in (404, 401, 413)
            assert response.json()["request_id"] == response.headers[REQUEST_ID_HEADER]


def test_cors_preflights_carry_a_request_id(container: Container) -> None:
    container.settings.api.cors_origins = ["https://app.example"]
    preflight = {"Access-Control-Request-Method": "POST"}
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        allowed = client.options("/v1/kbs", headers=preflight | {"Origin": "https://app.example"})
        refused = client.options("/v1/kbs", headers=preflight | {"Origin": "https://evil.example"})
    assert allowed.status_code < 300 and re.fullmatch(
        r"[0-9a-f]{32}", allowed.headers[REQUEST_ID_HEADER]
    )
    assert refused.status_code == 403
    assert refused.json()["request_id"] == refused.headers[REQUEST_ID_HEADER]


def test_a_server_sent_event_stream_carries_the_request_id(
    live_server: str, container: Container, auth_headers: dict[str, str]
) -> None:
    kb_id = container.catalog.create_kb("empty").id
    with httpx.stream(
        "POST",
        f"{live_server}/v1/kbs/{kb_id}/query",
        json={"question": "Where do staff park?", "stream": True},
        headers=auth_headers | {"X-Request-ID": "stream-1"},
        timeout=60,
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers[REQUEST_ID_HEADER] == "stream-1"
        assert "event:" in response.read().decode()


def test_text_format_keeps_a_readable_line_with_the_request_id(client: TestClient) -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    stream = io.StringIO()
    configure_logging(LogSettings(format="text"), stream=stream)
    try:
        response = client.get("/healthz")
    finally:
        root.handlers[:] = saved
        logging.captureWarnings(False)
    line = stream.getvalue().strip()
    assert f"INFO kb.access [{response.headers[REQUEST_ID_HEADER]}]: GET /healthz 200" in line


def test_text_format_cannot_be_fed_forged_lines(client: TestClient) -> None:
    """Regression (security review): uvicorn decodes %0a in a path to a newline, which forged
    a second line in the text log format."""
    root = logging.getLogger()
    saved = root.handlers[:]
    stream = io.StringIO()
    configure_logging(LogSettings(format="text"), stream=stream)
    try:
        client.get("/nowhere%0a2026-01-01 00:00:00,000 INFO kb.access: POST /v1/keys 201")
    finally:
        root.handlers[:] = saved
        logging.captureWarnings(False)
    lines = [line for line in stream.getvalue().splitlines() if "INFO kb.access [" in line]
    assert len(lines) == 1 and "/nowhere\\n2026-01-01" in lines[0]


@pytest.mark.parametrize(
    ("secret", "kept"),
    [
        ("kb_live_0123abcd_" + "A-b_9" * 9, "kb_live_0123abcd_[REDACTED]"),
        ("kb_pub_89abcdef_" + "Zz0-_" * 9, "kb_pub_89abcdef_[REDACTED]"),
        ("Authorization: Bearer abc.def-ghi", "Bearer [REDACTED]"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjbGllbnQifQ.c2lnbmF0dXJl", "[REDACTED_JWT]"),
        ("whsec_" + "k3y" * 12, "whsec_[REDACTED]"),
        ("sk-proj-" + "a1B2" * 10, "sk-[REDACTED]"),
        ("gAAAAABm" + "Q1x_" * 20 + "==", "[REDACTED_FERNET]"),
        ("key=" + "Wk9" * 14 + "a=", "[REDACTED_KEY]"),
    ],
)
def test_redaction_masks_every_kind_of_secret(secret: str, kept: str) -> None:
    masked = redact(f"before {secret} after")
    assert kept in masked and masked.startswith("before ") and masked.endswith(" after")
    hidden = secret.split()[-1].removeprefix("key=")
    assert hidden not in masked


def test_kb_serve_writes_json_lines_for_uvicorn_and_requests(tmp_path: Path) -> None:
    """`kb serve` sends uvicorn's own messages and the access log through one JSON handler."""
    port = free_port()
    env = os.environ | {
        "KB_STORAGE__DATA_DIR": str(tmp_path / "data"),
        "KB_EMBEDDING__CACHE_DIR": str(MODEL_CACHE),
        "KB_SECURITY__AUTH_ENABLED": "false",
    }
    kb = Path(sys.executable).parent / "kb"
    server = subprocess.Popen(
        [str(kb), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/v1/kbs?token=abc", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert all(line.startswith("{") for line in stderr.splitlines()), stderr  # JSON lines only
    lines = [json.loads(line) for line in stderr.splitlines()]
    assert any(line["logger"] == "uvicorn.error" for line in lines)
    (access,) = _access(lines)
    assert access["route"] == "/v1/kbs" and access["status"] == 200
    assert access["request_id"] == response.headers[REQUEST_ID_HEADER]
    assert "token=abc" not in stderr
    assert not any(line["logger"] == "uvicorn.access" for line in lines)
