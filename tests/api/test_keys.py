"""API keys over HTTP and the CLI: shown once, stored hashed, revoked, rotated, restricted."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from api.container import Container, build_container
from kb.access.keys import ApiKeyRow
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import make_settings


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_a_created_key_is_shown_once_and_stored_only_as_a_hash(
    client: TestClient, container: Container
) -> None:
    created = client.post("/v1/keys", json={"scopes": ["kb:read"], "name": "reader"})
    assert created.status_code == 201
    secret, prefix = created.json()["secret"], created.json()["prefix"]
    assert secret.startswith(prefix + "_") and len(secret) > 40
    listed = client.get("/v1/keys")
    assert prefix in listed.text and secret not in listed.text
    assert "secret" not in listed.json()[0]
    with Session(container.registry.engine) as session:
        stored = session.scalars(select(ApiKeyRow)).all()
    assert all(secret not in repr(vars(row)) for row in stored)
    assert client.get("/v1/kbs", headers=_bearer(secret)).status_code == 200
    assert client.get("/v1/kbs", headers={"X-API-Key": secret}).status_code == 200


def test_a_revoked_key_is_refused(client: TestClient) -> None:
    created = client.post("/v1/keys", json={"scopes": ["chat"]}).json()
    assert client.get("/v1/models", headers=_bearer(created["secret"])).status_code == 200
    revoked = client.delete(f"/v1/keys/{created['prefix']}")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    refused = client.get("/v1/models", headers=_bearer(created["secret"]))
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    assert client.delete("/v1/keys/kb_live_nope").json()["code"] == "api_key_not_found"


def test_rotation_keeps_the_old_key_for_the_grace_period_only(client: TestClient) -> None:
    old = client.post("/v1/keys", json={"scopes": ["kb:read"], "name": "ci"}).json()
    new = client.post(f"/v1/keys/{old['prefix']}/rotate").json()
    assert new["scopes"] == ["kb:read"] and new["name"] == "ci"
    for secret in (old["secret"], new["secret"]):
        assert client.get("/v1/kbs", headers=_bearer(secret)).status_code == 200
    listed = {k["prefix"]: k for k in client.get("/v1/keys").json()}
    assert listed[old["prefix"]]["replaced_by"] == new["prefix"]
    assert listed[old["prefix"]]["expires_at"] is not None
    # A grace period of zero ends the replaced key at once.
    newest = client.post(f"/v1/keys/{new['prefix']}/rotate", json={"grace_period_s": 0}).json()
    assert client.get("/v1/kbs", headers=_bearer(new["secret"])).status_code == 401
    assert client.get("/v1/kbs", headers=_bearer(newest["secret"])).status_code == 200


def test_a_rotated_key_is_not_rotated_twice(client: TestClient) -> None:
    """Regression (issue 19): re-rotating a key overwrote replaced_by; its first replacement
    stayed active and untracked."""
    before = {k["prefix"] for k in client.get("/v1/keys").json()}
    old = client.post("/v1/keys", json={"scopes": ["kb:read"], "name": "ci"}).json()
    first = client.post(f"/v1/keys/{old['prefix']}/rotate").json()
    again = client.post(f"/v1/keys/{old['prefix']}/rotate", json={"grace_period_s": 0})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "key_already_rotated"
    assert again.json()["replaced_by"] == first["prefix"]
    listed = {k["prefix"]: k for k in client.get("/v1/keys").json()}
    assert set(listed) - before == {old["prefix"], first["prefix"]}  # no untracked key
    assert listed[old["prefix"]]["replaced_by"] == first["prefix"]
    for secret in (old["secret"], first["secret"]):  # the refused call changed nothing
        assert client.get("/v1/kbs", headers=_bearer(secret)).status_code == 200
    # The chain goes on from the current key.
    newest = client.post(f"/v1/keys/{first['prefix']}/rotate").json()
    chained = {k["prefix"]: k for k in client.get("/v1/keys").json()}
    assert chained[first["prefix"]]["replaced_by"] == newest["prefix"]


def test_a_key_restricted_to_one_knowledge_base_reaches_no_other(client: TestClient) -> None:
    mine = client.post("/v1/kbs", json={"name": "mine"}).json()["id"]
    other = client.post("/v1/kbs", json={"name": "other"}).json()["id"]
    client.post(f"/v1/kbs/{mine}/documents", json={"title": "Hours", "text": "Open at nine."})
    scoped = client.post(
        "/v1/keys", json={"scopes": ["kb:read", "chat"], "kb_ids": ["mine"]}
    ).json()
    assert scoped["kb_ids"] == [mine]
    auth = _bearer(scoped["secret"])
    assert client.get(f"/v1/kbs/{mine}/documents", headers=auth).status_code == 200
    refused = client.get(f"/v1/kbs/{other}", headers=auth)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert [k["id"] for k in client.get("/v1/kbs", headers=auth).json()["items"]] == [mine]
    assert [m["id"] for m in client.get("/v1/models", headers=auth).json()["data"]] == [mine]
    ask = {"messages": [{"role": "user", "content": "When do you open?"}]}
    completions = "/v1/chat/completions"
    assert client.post(completions, json=ask | {"model": other}, headers=auth).status_code == 403
    assert client.post(completions, json=ask | {"model": mine}, headers=auth).status_code == 200
    send = {"user_id": "u1", "text": "When do you open?"}
    assert (
        client.post("/v1/messages/send", json=send | {"kb_id": "other"}, headers=auth).status_code
        == 403
    )
    sent = client.post("/v1/messages/send", json=send | {"kb_id": "mine"}, headers=auth)
    assert sent.status_code == 200
    conversation = sent.json()["conversation_id"]
    assert client.get(f"/v1/conversations/{conversation}", headers=auth).status_code == 200
    other_key = client.post("/v1/keys", json={"scopes": ["chat"], "kb_ids": [other]}).json()
    foreign = client.get(f"/v1/conversations/{conversation}", headers=_bearer(other_key["secret"]))
    # Missing to it, not forbidden: a 403 confirmed the id (tests/api/test_tenancy.py).
    assert foreign.status_code == 404 and foreign.json()["code"] == "conversation_not_found"
    writer = client.post("/v1/keys", json={"scopes": ["kb:write"], "kb_ids": [mine]}).json()
    made = client.post("/v1/kbs", json={"name": "new"}, headers=_bearer(writer["secret"]))
    assert made.status_code == 403


def test_unknown_scopes_and_knowledge_bases_are_refused(client: TestClient) -> None:
    assert client.post("/v1/keys", json={"scopes": ["root"]}).status_code == 422
    missing = client.post("/v1/keys", json={"scopes": ["chat"], "kb_ids": ["nope"]})
    assert missing.status_code == 404 and missing.json()["code"] == "kb_not_found"


def test_auth_can_be_turned_off_for_a_local_demo(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(tmp_path / "data", security__auth_enabled=False)
    container = build_container(settings, embedder=embedder)
    with TestClient(create_app(container)) as anonymous:
        assert anonymous.post("/v1/kbs", json={"name": "demo"}).status_code == 201
    container.close()


def test_requests_over_the_rate_limit_get_429_with_retry_after(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(tmp_path / "data", security__rate_limit="3/minute")
    container = build_container(settings, embedder=embedder)
    secret = container.keys.create(["kb:read"]).secret
    with TestClient(create_app(container), headers=_bearer(secret)) as limited:
        answers = [limited.get("/v1/kbs") for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[0].headers["ratelimit-limit"] == "3"
        assert answers[0].headers["ratelimit-remaining"] == "2"
        over = answers[-1]
        assert over.json()["code"] == "rate_limited"
        assert 0 < int(over.headers["retry-after"]) <= 60
        assert over.headers["ratelimit-remaining"] == "0"
        assert limited.get("/healthz").status_code == 200  # health is never limited
    container.close()


def test_cli_creates_the_first_admin_key_and_revokes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "--scope", "admin", "--name", "boot"])
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("kb_live_")
    prefix = secret[: len("kb_live_") + 8]
    listed = runner.invoke(cli, ["keys", "list"])
    assert prefix in listed.stdout and secret not in listed.stdout
    assert runner.invoke(cli, ["keys", "revoke", prefix]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["keys", "list"]).stdout
