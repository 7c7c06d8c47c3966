"""The audit log: administrative actions recorded with who, what, target, outcome and request id,
refused ones too; chat traffic and reads left out; bodies never stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from api.container import Container, build_container
from api.middleware.audit import action_name
from api.request_id import REQUEST_ID_HEADER
from kb.db.audit import AuditLog, AuditRow
from kb.db.registry import Registry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.settings import Settings
from tests.conftest import make_settings


def _entries(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/v1/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def _bearer(secret: str) -> dict[str, str]:
    # Replaces the client's default admin key rather than adding a second credential.
    return {"Authorization": f"Bearer {secret}"}


def _prefix(headers: dict[str, str]) -> str:
    return headers["Authorization"].removeprefix("Bearer ")[:16]


def test_admin_actions_are_recorded_newest_first_without_bodies(
    client: TestClient, container: Container, auth_headers: dict[str, str]
) -> None:
    created = client.post("/v1/kbs", json={"name": "hr", "description": "body-secret-1"})
    kb_id = created.json()["id"]
    client.patch(f"/v1/kbs/{kb_id}", json={"description": "body-secret-2"})
    key = client.post("/v1/keys", json={"scopes": ["kb:read"], "name": "body-secret-3"}).json()
    rotated = client.post(f"/v1/keys/{key['prefix']}/rotate")
    client.delete(f"/v1/keys/{key['prefix']}")
    deleted = client.delete(f"/v1/kbs/{kb_id}")
    entries = _entries(client)
    assert [e["action"] for e in entries] == [
        "kb.delete",
        "key.revoke",
        "key.rotate",
        "key.create",
        "kb.update",
        "kb.create",
    ]
    assert {e["actor"] for e in entries} == {_prefix(auth_headers)}
    assert [e["status"] for e in entries] == [204, 200, 201, 201, 200, 201]
    assert entries[0]["target"] == {"kb_id": kb_id}
    assert entries[0]["method"] == "DELETE" and entries[0]["route"] == "/v1/kbs/{kb_id}"
    assert entries[0]["request_id"] == deleted.headers[REQUEST_ID_HEADER]
    assert entries[2]["target"] == {"prefix": key["prefix"]}
    assert entries[2]["request_id"] == rotated.headers[REQUEST_ID_HEADER]
    assert entries[-1]["client"] == "testclient" and entries[-1]["target"] == {}
    with Session(container.registry.engine) as session:
        stored = repr([vars(row) for row in session.scalars(select(AuditRow))])
    assert "body-secret" not in stored and key["secret"] not in stored
    assert rotated.json()["secret"] not in stored


def test_refused_requests_of_known_callers_are_recorded(
    client: TestClient, container: Container
) -> None:
    # A key's refusals are recorded; refusals before anyone is identified (no key, a body too
    # large) are not: anyone could send those to flood the trail. The access log has them.
    reader = container.keys.create(["kb:read"]).secret
    no_key = {"Authorization": ""}
    assert client.post("/v1/kbs", json={"name": "x"}, headers=no_key).status_code == 401
    anonymous = client.post("/v1/keys", json={"scopes": ["admin"]}, headers=no_key)
    assert anonymous.status_code == 401
    forbidden = client.delete("/v1/keys/kb_live_00000000", headers=_bearer(reader))
    assert forbidden.status_code == 403
    container.settings.api.max_json_bytes = 100
    with TestClient(create_app(container), raise_server_exceptions=False) as small:
        too_large = small.post("/v1/kbs", content=b"{" + b" " * 200 + b"}")
        assert too_large.status_code == 413
    entries = _entries(client)
    assert [(e["action"], e["status"], e["actor"]) for e in entries] == [
        ("key.revoke", 403, reader[:16]),
    ]
    assert entries[0]["request_id"] == forbidden.headers[REQUEST_ID_HEADER]
    assert entries[0]["target"] == {"prefix": "kb_live_00000000"}


def test_chat_traffic_reads_and_unknown_paths_are_not_recorded(
    client: TestClient, container: Container
) -> None:
    kb_id = container.catalog.create_kb("faq").id
    assert client.post(f"/v1/kbs/{kb_id}/search", json={"query": "parking"}).status_code == 200
    assert client.post(f"/v1/kbs/{kb_id}/query", json={"question": "parking?"}).status_code == 200
    client.post("/v1/messages/send", json={})
    client.post("/v1/chat/completions", json={})
    client.put("/v1/users/u1/profile", json={})
    client.post("/v1/conversations/c1/events", json={})
    client.get("/v1/kbs")
    client.get(f"/v1/kbs/{kb_id}")
    assert client.post("/v1/nowhere", json={}).status_code == 404
    assert client.put("/v1/kbs", json={}).status_code == 405
    assert _entries(client) == []


def test_filters_and_pages(client: TestClient, container: Container) -> None:
    other = container.keys.create(["admin"]).secret
    before = datetime.now(UTC) - timedelta(seconds=1)
    for name in ("a", "b", "c"):
        client.post("/v1/kbs", json={"name": name})
    client.post("/v1/keys", json={"scopes": ["chat"]}, headers=_bearer(other))
    page = client.get("/v1/audit", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 4 and len(page["items"]) == 2
    assert [e["action"] for e in page["items"]] == ["kb.create", "kb.create"]
    mine = _entries(client, actor=other[:16])
    assert [e["action"] for e in mine] == ["key.create"]
    assert len(_entries(client, action="kb.create")) == 3
    assert len(_entries(client, since=before.isoformat())) == 4
    later = (datetime.now(UTC) + timedelta(hours=1)).replace(tzinfo=None).isoformat()
    assert _entries(client, since=later) == []
    # The same instant written in another zone: compared in UTC, not by its wall-clock fields.
    east = (before - timedelta(minutes=30)).astimezone(timezone(timedelta(hours=2)))
    assert len(_entries(client, since=east.isoformat())) == 4
    assert client.get("/v1/audit", params={"limit": 0}).json()["code"] == "validation_failed"


def test_the_audit_log_needs_an_unrestricted_admin_key(
    client: TestClient, container: Container
) -> None:
    kb_id = container.catalog.create_kb("one").id
    writer = container.keys.create(["kb:write", "kb:read", "chat", "metrics"]).secret
    restricted = container.keys.create(["admin"], kb_ids=[kb_id]).secret
    for secret in (writer, restricted):
        refused = client.get("/v1/audit", headers=_bearer(secret))
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.get("/v1/audit", headers={"Authorization": ""}).status_code == 401


def test_with_auth_off_the_actor_is_anonymous(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(tmp_path / "data", security__auth_enabled=False)
    container = build_container(settings, embedder=embedder)
    with TestClient(create_app(container), raise_server_exceptions=False) as client:
        assert client.post("/v1/kbs", json={"name": "demo"}).status_code == 201
        (entry,) = _entries(client)
    assert entry["actor"] == "anonymous" and entry["action"] == "kb.create"


def test_kb_keys_create_rotate_and_revoke_record_the_cli_as_actor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    created = CliRunner().invoke(cli, ["keys", "create", "--scope", "admin"])
    assert created.exit_code == 0, created.output
    prefix = created.stdout.strip()[:16]
    rotated = CliRunner().invoke(cli, ["keys", "rotate", prefix])
    assert rotated.exit_code == 0, rotated.output
    revoked = CliRunner().invoke(cli, ["keys", "revoke", prefix])
    assert revoked.exit_code == 0, revoked.output
    registry = Registry(Settings().database_url)
    try:
        entries, total = AuditLog(registry.engine).list(10, 0)
    finally:
        registry.close()
    assert total == 3 and {e.actor for e in entries} == {"cli"}
    assert [e.action for e in entries] == ["key.revoke", "key.rotate", "key.create"]
    assert all(e.target["prefix"] == prefix for e in entries)
    assert entries[1].target["replaced_by"] == rotated.stdout.strip()[:16]


@pytest.mark.parametrize(
    ("method", "route", "action"),
    [
        ("POST", "/v1/kbs", "kb.create"),
        ("PATCH", "/v1/kbs/{kb_id}", "kb.update"),
        ("POST", "/v1/kbs/{kb_id}/documents", "document.create"),
        ("DELETE", "/v1/kbs/{kb_id}/documents/{doc_id}", "document.delete"),
        ("DELETE", "/v1/kbs/{kb_id}/crawls/{crawl_id}", "crawl.cancel"),
        ("POST", "/v1/keys/{prefix}/rotate", "key.rotate"),
        ("PUT", "/v1/providers/{provider}", "provider.update"),
        (
            "POST",
            "/v1/webhooks/{webhook_id}/deliveries/{id}/redeliver",
            "delivery.redeliver",
        ),
    ],
)
def test_action_names_follow_route_and_method(method: str, route: str, action: str) -> None:
    assert action_name(method, route) == action
