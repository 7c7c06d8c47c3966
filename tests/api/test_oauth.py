"""OAuth 2.0 client credentials over HTTP: clients managed by admins, POST /oauth/token, and the
tokens accepted wherever API keys are, with the same scopes and knowledge-base limits."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from api.container import Container, build_container
from kb.access.oauth import AUDIENCE, OAuthClientRow, signing_keys
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import make_settings

TOKEN = "/oauth/token"
FORM = {"grant_type": "client_credentials"}


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _new_client(client: TestClient, **body: object) -> dict[str, str]:
    created = client.post("/v1/oauth/clients", json={"name": "crm"} | body)
    assert created.status_code == 201, created.text
    found: dict[str, str] = created.json()
    return found


def _token(client: TestClient, oauth: dict[str, str], **form: str) -> str:
    issued = client.post(
        TOKEN,
        data=FORM | form,
        headers=_basic(oauth["client_id"], oauth["client_secret"]),
    )
    assert issued.status_code == 200, issued.text
    token: str = issued.json()["access_token"]
    return token


def test_a_client_is_shown_once_and_its_token_works_like_a_key(
    client: TestClient, container: Container
) -> None:
    mine = client.post("/v1/kbs", json={"name": "mine"}).json()["id"]
    other = client.post("/v1/kbs", json={"name": "other"}).json()["id"]
    oauth = _new_client(client, scopes=["kb:read"], kb_ids=["mine"])
    assert oauth["client_id"].startswith("kbc_") and oauth["kb_ids"] == [mine]
    listed = client.get("/v1/oauth/clients")
    assert oauth["client_id"] in listed.text and oauth["client_secret"] not in listed.text
    with Session(container.registry.engine) as session:
        rows = session.scalars(select(OAuthClientRow)).all()
    assert all(oauth["client_secret"] not in repr(vars(row)) for row in rows)

    issued = client.post(
        TOKEN, data=FORM, headers=_basic(oauth["client_id"], oauth["client_secret"])
    )
    assert issued.status_code == 200
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "kb:read"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == oauth["client_id"] and claims["kb_ids"] == [mine]
    assert claims["exp"] - claims["iat"] == 900 and claims["aud"] == AUDIENCE

    anonymous = {"Authorization": ""}  # the client fixture sends an admin key otherwise
    auth = anonymous | _bearer(body["access_token"])
    assert client.get(f"/v1/kbs/{mine}", headers=auth).status_code == 200
    assert [k["id"] for k in client.get("/v1/kbs", headers=auth).json()["items"]] == [mine]
    for refused in (
        client.get(f"/v1/kbs/{other}", headers=auth),  # another knowledge base
        client.post("/v1/kbs", json={"name": "x"}, headers=auth),  # kb:write
        client.get("/v1/models", headers=auth),  # chat
        client.get("/v1/oauth/clients", headers=auth),  # admin
    ):
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


def test_form_credentials_and_a_narrower_scope(client: TestClient) -> None:
    oauth = _new_client(client, scopes=["kb:read", "chat"])
    issued = client.post(
        TOKEN,
        data=FORM
        | {
            "client_id": oauth["client_id"],
            "client_secret": oauth["client_secret"],
            "scope": "chat",
        },
        headers={"Authorization": ""},
    )
    assert issued.status_code == 200 and issued.json()["scope"] == "chat"
    auth = _bearer(issued.json()["access_token"])
    assert client.get("/v1/models", headers=auth).status_code == 200
    assert client.get("/v1/kbs", headers=auth).status_code == 403


def test_token_endpoint_errors_follow_rfc_6749_inside_the_one_shape(client: TestClient) -> None:
    oauth = _new_client(client, scopes=["kb:read"])
    cid, secret = oauth["client_id"], oauth["client_secret"]
    good = _basic(cid, secret)
    cases: list[tuple[dict[str, str], dict[str, str], int, str]] = [
        ({}, good, 400, "invalid_request"),
        ({"grant_type": "password", "username": "a"}, good, 400, "unsupported_grant_type"),
        (FORM, _basic(cid, secret + "x"), 401, "invalid_client"),
        (FORM, _basic("kbc_nobody", secret), 401, "invalid_client"),
        (FORM, {"Authorization": ""}, 401, "invalid_client"),
        (FORM, {"Authorization": "Basic not-base64!"}, 401, "invalid_client"),
        (FORM | {"client_id": cid}, {"Authorization": ""}, 401, "invalid_client"),
        (FORM | {"client_id": cid, "client_secret": secret}, good, 400, "invalid_request"),
        (FORM | {"scope": "kb:read chat"}, good, 400, "invalid_scope"),
        (FORM | {"scope": "root"}, good, 400, "invalid_scope"),
    ]
    for form, headers, status, error in cases:
        answer = client.post(TOKEN, data=form, headers=headers)
        assert answer.status_code == status, (form, headers, answer.text)
        problem = answer.json()
        assert problem["error"] == problem["code"] == error, problem
        assert problem["status"] == status and problem["detail"] == problem["error_description"]
        assert set(problem) >= {"type", "title", "status", "code", "detail"}
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["cache-control"] == "no-store"
        assert "access_token" not in problem
        if status == 401:
            assert answer.headers["www-authenticate"].startswith("Basic")
    as_json = client.post(TOKEN, json=FORM, headers=good)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"


def test_revoking_a_client_ends_its_tokens_at_once(client: TestClient) -> None:
    oauth = _new_client(client, scopes=["kb:read"])
    auth = _bearer(_token(client, oauth))
    assert client.get("/v1/kbs", headers=auth).status_code == 200
    revoked = client.delete(f"/v1/oauth/clients/{oauth['client_id']}")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    refused = client.get("/v1/kbs", headers=auth)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"
    again = client.post(
        TOKEN, data=FORM, headers=_basic(oauth["client_id"], oauth["client_secret"])
    )
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"
    missing = client.delete("/v1/oauth/clients/kbc_nobody")
    assert missing.status_code == 404 and missing.json()["code"] == "oauth_client_not_found"


def test_expired_unsigned_and_foreign_tokens_get_401(
    client: TestClient, container: Container
) -> None:
    oauth = _new_client(client, scopes=["admin"])
    claims = jwt.decode(_token(client, oauth), options={"verify_signature": False})
    key = signing_keys(None, container.settings.storage.data_dir)[0]  # the generated key
    past = int(time.time()) - 60
    forged = [
        jwt.encode(claims | {"iat": past - 900, "exp": past}, key, algorithm="HS256"),
        jwt.encode(claims | {"aud": "another-api"}, key, algorithm="HS256"),
        jwt.encode(claims, "a different key that is long enough", algorithm="HS256"),
        jwt.encode(claims, "", algorithm="none"),
    ]
    for token in forged:
        refused = client.get("/v1/kbs", headers=_bearer(token))
        assert refused.status_code == 401, token
        assert refused.json()["code"] == "unauthorized"
        assert refused.headers["www-authenticate"].startswith("Bearer")
    fresh = jwt.encode(claims | {"exp": int(time.time()) + 60}, key, algorithm="HS256")
    assert client.get("/v1/kbs", headers=_bearer(fresh)).status_code == 200


def test_the_token_endpoint_is_rate_limited_per_address(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(tmp_path / "data", security__rate_limit="3/minute")
    container = build_container(settings, embedder=embedder)
    with TestClient(create_app(container)) as http:
        answers = [
            http.post(TOKEN, data=FORM, headers=_basic("kbc_guess", f"secret{n}")) for n in range(4)
        ]
        assert [a.status_code for a in answers] == [401, 401, 401, 429]
        assert answers[-1].json()["code"] == "rate_limited"
        assert int(answers[-1].headers["retry-after"]) > 0
    container.close()


@pytest.fixture
def http(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def test_curl_style_flow_over_a_real_server(
    http: httpx.Client, auth_headers: dict[str, str]
) -> None:
    created = http.post(
        "/v1/oauth/clients", json={"name": "helpdesk", "scopes": ["chat"]}, headers=auth_headers
    ).json()
    issued = http.post(
        TOKEN,
        data={"grant_type": "client_credentials", "scope": "chat"},
        auth=(created["client_id"], created["client_secret"]),
    )
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    models = http.get("/v1/models", headers=_bearer(issued.json()["access_token"]))
    assert models.status_code == 200 and models.json()["object"] == "list"


def test_cli_creates_lists_and_revokes_clients(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    created = runner.invoke(cli, ["oauth-clients", "create", "--scope", "kb:read"])
    assert created.exit_code == 0, created.output
    client_id, secret = created.stdout.split()
    assert client_id.startswith("kbc_") and len(secret) > 40
    listed = runner.invoke(cli, ["oauth-clients", "list"], env={"COLUMNS": "200"})
    assert client_id in listed.stdout and secret not in listed.stdout
    assert runner.invoke(cli, ["oauth-clients", "revoke", client_id]).exit_code == 0
    assert "revoked" in runner.invoke(cli, ["oauth-clients", "list"]).stdout
