"""Publishable keys for browsers and CORS, over a real uvicorn server: chat only, one knowledge
base, honoured only from the listed origins; preflights answered for allowed origins only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from api.container import build_container
from kb.db.registry import Registry
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.settings import Settings
from tests.conftest import make_settings
from tests.support.sse_client import read_events

SITE = "https://shop.example.com"
ADMIN_SITE = "https://admin.example.com"  # configured in KB_API__CORS_ORIGINS
DOC = "# Opening hours\n\nThe shop opens at nine and closes at six on weekdays."


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings with one configured CORS origin."""
    return make_settings(tmp_path / "data", api__cors_origins=[ADMIN_SITE])


@pytest.fixture
def http(live_server: str, auth_headers: dict[str, str]) -> httpx.Client:
    """An admin client of the live server."""
    return httpx.Client(base_url=live_server, headers=auth_headers, timeout=30)


def _publishable(http: httpx.Client, kb_id: str, origins: list[str]) -> dict[str, str]:
    body = {"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": origins, "name": "site"}
    created = http.post("/v1/keys", json=body)
    assert created.status_code == 201, created.text
    key: dict[str, str] = created.json()
    return key


def _preflight(base: str, path: str, origin: str) -> httpx.Response:
    return httpx.options(
        f"{base}{path}",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-api-key, content-type",
        },
    )


def test_admin_creates_lists_and_rotates_a_publishable_key(client: TestClient) -> None:
    kb_id = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    created = client.post(
        "/v1/keys",
        json={
            "kind": "publishable",
            "kb_ids": ["shop"],
            "allowed_origins": ["HTTPS://Shop.Example.com:443", "http://localhost:5173"],
        },
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["secret"].startswith("kb_pub_") and key["prefix"].startswith("kb_pub_")
    assert key["kind"] == "publishable" and key["scopes"] == ["chat"] and key["kb_ids"] == [kb_id]
    assert key["allowed_origins"] == ["http://localhost:5173", SITE]
    listed = {k["prefix"]: k for k in client.get("/v1/keys").json()}
    assert listed[key["prefix"]]["allowed_origins"] == key["allowed_origins"]
    assert all(k["kind"] == "secret" for p, k in listed.items() if p != key["prefix"])
    rotated = client.post(f"/v1/keys/{key['prefix']}/rotate").json()
    assert rotated["kind"] == "publishable" and rotated["secret"].startswith("kb_pub_")
    assert rotated["allowed_origins"] == key["allowed_origins"]


@pytest.mark.parametrize(
    "body",
    [
        {"kb_ids": ["shop"], "allowed_origins": ["*"]},
        {"kb_ids": ["shop"], "allowed_origins": ["https://*.example.com"]},
        {"kb_ids": ["shop"], "allowed_origins": ["https://shop.example.com/widget"]},
        {"kb_ids": ["shop"], "allowed_origins": []},
        {"kb_ids": ["shop"]},
        {"kb_ids": ["shop", "other"], "allowed_origins": [SITE]},
        {"allowed_origins": [SITE]},
        {"kb_ids": ["shop"], "allowed_origins": [SITE], "scopes": ["chat", "kb:read"]},
        {"kb_ids": ["shop"], "allowed_origins": [SITE], "scopes": ["admin"]},
    ],
)
def test_unsafe_publishable_keys_are_refused_and_nothing_is_stored(
    client: TestClient, body: dict[str, object]
) -> None:
    client.post("/v1/kbs", json={"name": "shop"})
    client.post("/v1/kbs", json={"name": "other"})
    before = client.get("/v1/keys").json()
    refused = client.post("/v1/keys", json={"kind": "publishable"} | body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == "invalid_input"
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.get("/v1/keys").json() == before
    origins = client.post("/v1/keys", json={"scopes": ["chat"], "allowed_origins": [SITE]})
    assert origins.status_code == 400  # a secret key has no origins


def test_a_page_on_an_allowed_origin_chats_and_reads_the_answers(
    live_server: str, http: httpx.Client
) -> None:
    kb_id = http.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    http.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Hours", "text": DOC})
    key = _publishable(http, kb_id, [SITE])
    query = f"/v1/kbs/{kb_id}/query"

    preflight = _preflight(live_server, query, SITE)
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == SITE
    assert preflight.headers["vary"] == "Origin"
    assert "X-API-Key" in preflight.headers["access-control-allow-headers"]
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert int(preflight.headers["access-control-max-age"]) > 0
    assert "access-control-allow-credentials" not in preflight.headers

    browser = {"X-API-Key": key["secret"], "Origin": SITE}
    answer = httpx.post(
        f"{live_server}{query}", json={"question": "When does it open?"}, headers=browser
    )
    assert answer.status_code == 200 and answer.json()["grounded"] is True
    assert answer.headers["access-control-allow-origin"] == SITE
    assert "Origin" in answer.headers["vary"]
    assert "RateLimit-Remaining" in answer.headers["access-control-expose-headers"]
    assert "access-control-allow-credentials" not in answer.headers

    with httpx.stream(
        "POST",
        f"{live_server}{query}",
        json={"question": "When does it open?", "stream": True},
        headers=browser,
        timeout=30,
    ) as stream:
        assert stream.headers["access-control-allow-origin"] == SITE
        assert [e.name for e in read_events(stream)][-1] == "done"

    # Errors carry the headers too, so the page can read why it was refused.
    other = http.post("/v1/kbs", json={"name": "other"}).json()["id"]
    refused = httpx.post(
        f"{live_server}/v1/kbs/{other}/query", json={"question": "Hi?"}, headers=browser
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert refused.headers["access-control-allow-origin"] == SITE


def test_another_origin_gets_no_cors_and_its_requests_are_refused(
    live_server: str, http: httpx.Client
) -> None:
    kb_id = http.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    key = _publishable(http, kb_id, [SITE])
    query = f"/v1/kbs/{kb_id}/query"
    evil = "https://shop.example.com.evil.example"
    preflight = _preflight(live_server, query, evil)
    assert preflight.status_code == 403
    assert preflight.headers["content-type"] == "application/problem+json"
    assert preflight.json()["code"] == "forbidden" and preflight.json()["status"] == 403
    assert "access-control-allow-origin" not in preflight.headers
    # A script that skips the preflight (or a server-side copy of the key) is still refused.
    for headers in ({"Origin": evil}, {}):
        sent = httpx.post(
            f"{live_server}{query}",
            json={"question": "Hi?"},
            headers={"X-API-Key": key["secret"]} | headers,
        )
        assert sent.status_code == 403 and sent.json()["code"] == "forbidden"
        assert "access-control-allow-origin" not in sent.headers


def test_revoking_the_last_key_of_an_origin_withdraws_cors_at_once(
    live_server: str, http: httpx.Client
) -> None:
    kb_id = http.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    key = _publishable(http, kb_id, [SITE])
    assert _preflight(live_server, "/v1/messages/send", SITE).status_code == 204
    assert http.delete(f"/v1/keys/{key['prefix']}").status_code == 200
    assert _preflight(live_server, "/v1/messages/send", SITE).status_code == 403
    browser = {"X-API-Key": key["secret"], "Origin": SITE}
    revoked = httpx.get(f"{live_server}/v1/models", headers=browser)
    assert revoked.status_code == 401 and revoked.json()["code"] == "unauthorized"


def test_configured_origins_are_allowed_for_secret_keys(
    live_server: str, auth_headers: dict[str, str]
) -> None:
    assert _preflight(live_server, "/v1/kbs", ADMIN_SITE).status_code == 204
    listed = httpx.get(f"{live_server}/v1/kbs", headers=auth_headers | {"Origin": ADMIN_SITE})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == ADMIN_SITE
    anonymous = httpx.get(f"{live_server}/v1/kbs", headers={"Origin": ADMIN_SITE})
    assert anonymous.status_code == 401
    assert anonymous.headers["access-control-allow-origin"] == ADMIN_SITE
    assert httpx.get(f"{live_server}/healthz").headers.get("access-control-allow-origin") is None


def test_cors_origins_setting_refuses_wildcards_and_normalises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KB_API__CORS_ORIGINS", '["HTTPS://Admin.Example.com:443"]')
    assert Settings().api.cors_origins == [ADMIN_SITE]
    for bad in ('["*"]', '["https://admin.example.com/path"]'):
        monkeypatch.setenv("KB_API__CORS_ORIGINS", bad)
        with pytest.raises(ValidationError):
            Settings()


def test_cli_creates_and_lists_a_publishable_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    registry = Registry(f"sqlite:///{data / 'kb.sqlite3'}")
    kb_id = registry.create_kb("shop", "", None).id
    registry.close()
    monkeypatch.setenv("KB_STORAGE__DATA_DIR", str(data))
    runner = CliRunner()
    created = runner.invoke(
        cli, ["keys", "create", "--publishable", "--kb", "shop", "--origin", SITE]
    )
    assert created.exit_code == 0, created.output
    assert created.stdout.strip().startswith("kb_pub_")
    listed = runner.invoke(cli, ["keys", "list"], env={"COLUMNS": "200"})
    assert kb_id in listed.stdout and SITE in listed.stdout
    refused = runner.invoke(cli, ["keys", "create", "--publishable", "--kb", "shop"])
    assert refused.exit_code != 0


def test_publishable_keys_have_their_own_per_key_allowance(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    settings = make_settings(
        tmp_path / "data",
        security__rate_limit="50/minute",
        security__publishable_rate_limit="2/minute",
    )
    container = build_container(settings, embedder=embedder)
    kb_id = container.catalog.create_kb("shop").id
    public = container.keys.create(["chat"], [kb_id], kind="publishable", allowed_origins=[SITE])
    browser = {"X-API-Key": public.secret, "Origin": SITE}
    server = {"X-API-Key": container.keys.create(["chat"]).secret}
    with TestClient(create_app(container)) as http:
        answers = [http.get("/v1/models", headers=browser) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].headers["ratelimit-limit"] == "2"
        assert answers[-1].headers["access-control-allow-origin"] == SITE  # readable by the page
        assert http.get("/v1/models", headers=server).status_code == 200
    container.close()


def test_a_publishable_key_may_not_choose_the_answering_model(client: TestClient) -> None:
    """Regression (security review): the key is in the page's source, and naming a model let
    any visitor spend the operator's provider keys on whichever model they liked."""
    kb_id = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    client.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Hours", "text": DOC})
    body = {"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": [SITE]}
    secret = client.post("/v1/keys", json=body).json()["secret"]
    browser = {"Authorization": f"Bearer {secret}", "Origin": SITE}  # replaces the admin key
    attempts = [
        (f"/v1/kbs/{kb_id}/query", {"question": "When?", "model": "openai:gpt-4o"}),
        ("/v1/messages/send", {"kb_id": kb_id, "user_id": "v1", "text": "When?", "model": "local"}),
        (
            "/v1/chat/completions",
            {
                "model": kb_id,
                "messages": [{"role": "user", "content": "When?"}],
                "answer_model": "local",
            },
        ),
    ]
    for path, payload in attempts:
        refused = client.post(path, json=payload, headers=browser)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["code"] == "forbidden"
        assert "model" in refused.json()["detail"]
    fine = client.post(f"/v1/kbs/{kb_id}/query", json={"question": "When?"}, headers=browser)
    assert fine.status_code == 200 and fine.json()["model"] == "extractive"
