"""Publishable keys for browsers and CORS, over a real uvicorn server: chat only, one knowledge
base, honoured only from the listed origins; preflights answered for allowed origins only; what
a visitor can make the service store is bounded. (Visitor tokens: tests/api/test_tenancy.py.)"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from tests.conftest import admin_headers, make_settings
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


# --- what a visitor can make the service store is bounded


def _visitor(client: TestClient, kb_id: str) -> dict[str, str]:
    """A browser on SITE with the knowledge base's publishable key (replacing the admin key)."""
    body = {"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": [SITE]}
    secret = client.post("/v1/keys", json=body).json()["secret"]
    return {"Authorization": f"Bearer {secret}", "Origin": SITE}


def _start(client: TestClient, kb_id: str, browser: dict[str, str], user: str = "v1") -> Any:
    """Start a conversation as a visitor: its id, and the headers that continue it."""
    started = client.post(
        "/v1/messages/send",
        json={"kb_id": kb_id, "user_id": user, "text": "When?"},
        headers=browser,
    )
    assert started.status_code == 200, started.text
    token = started.json().get("visitor_token")
    return started.json()["conversation_id"], browser | (
        {"X-Visitor-Token": token} if token else {}
    )


def _press(
    client: TestClient,
    kb_id: str,
    conversation: str,
    owner: dict[str, str],
    variables: dict[str, Any],
) -> httpx.Response:
    action = {"type": "button", "payload": "When does it open?", "variables": variables}
    body = {"kb_id": kb_id, "user_id": "v1", "conversation_id": conversation, "action": action}
    return client.post("/v1/messages/send", json=body, headers=owner)


def test_button_actions_cannot_grow_a_conversations_state_past_its_bound(
    client: TestClient,
) -> None:
    """Regression (security review): button actions merged `action.variables` into the state
    without the 100-key / 64 KiB check (15 actions: 1,350 keys, 828 KB), publishable keys
    included."""
    kb_id = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    client.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Hours", "text": DOC})
    browser = _visitor(client, kb_id)
    for grow in (
        lambda n: {f"k{n}_{i}": i for i in range(90)},  # many keys
        lambda n: {f"big{n}": "x" * 40_000},  # few, large values
    ):
        conversation, owner = _start(client, kb_id, browser)
        answers = [_press(client, kb_id, conversation, owner, grow(n)) for n in range(15)]
        assert answers[0].status_code == 200, answers[0].text
        for refused in answers[1:]:
            assert refused.status_code == 413, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "state_too_large"
            assert refused.json()["max_keys"] == 100 and refused.json()["max_bytes"] == 65536
        stored = client.get(f"/v1/conversations/{conversation}/variables").json()["variables"]
        assert stored == grow(0)  # the first action's, and nothing of the refused ones
        history = client.get(f"/v1/conversations/{conversation}/history").json()
        assert history["total"] == 4  # the start and the first action, each with its reply
    # The route that replaces the variables keeps its own bound on the request.
    too_many = {f"k{i}": i for i in range(101)}
    put = client.put(
        f"/v1/conversations/{conversation}/variables", json={"variables": too_many}, headers=owner
    )
    assert put.status_code == 422 and put.json()["code"] == "validation_failed"


def test_button_actions_cannot_grow_a_conversation_past_its_byte_cap(client: TestClient) -> None:
    """Regression (issue 19): 1,000 messages x 64 KiB actions let a conversation hold 64 MB."""
    # Each press replaces the same 60 KB variable (the state stays within its 64 KiB bound),
    # but every message stored the action again: the default cap of 4 MiB now ends it. A
    # server's chat key, not a visitor's: visitors also meet a 50-message quota per conversation.
    kb_id = client.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    client.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Hours", "text": DOC})
    chat_key = client.post("/v1/keys", json={"scopes": ["chat"], "kb_ids": [kb_id]}).json()
    owner = {"Authorization": f"Bearer {chat_key['secret']}"}
    conversation, owner = _start(client, kb_id, owner)
    blob = {"blob": "x" * 60_000}
    accepted = 0
    while (pressed := _press(client, kb_id, conversation, owner, blob)).status_code == 200:
        accepted += 1
        assert accepted <= 70, "4 MiB of 60 KB actions, and the conversation takes more"
    # Turns of a 60 KB action and its cited reply: fewer than 70 fit, and no more once full.
    assert accepted >= 40, accepted
    again = _press(client, kb_id, conversation, owner, {"small": 1})
    assert pressed.status_code == again.status_code == 409, again.text
    refused = pressed
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["code"] == "limit_reached" and body["limit"] == 4 * 1024 * 1024
    assert body["unit"] == "bytes"
    history = client.get(f"/v1/conversations/{conversation}/history", headers=owner).json()
    assert history["total"] == 2 + 2 * accepted  # the refused turns stored nothing
    # A new conversation starts afresh.
    assert _start(client, kb_id, owner)[0] != conversation


@pytest.fixture
def tight(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    """An admin client of an app with small storage caps."""
    settings = make_settings(
        tmp_path / "data",
        chat__max_messages_per_conversation=4,
        chat__max_events_per_conversation=3,
        chat__max_conversations_per_user=2,
        chat__max_leads_per_conversation=2,
    )
    container = build_container(settings, embedder=embedder)
    with TestClient(create_app(container), headers=admin_headers(container)) as client:
        yield client
    container.close()


def _limit_reached(response: httpx.Response, cap: int) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "limit_reached" and response.json()["limit"] == cap


def test_a_visitor_cannot_grow_a_conversations_messages_without_bound(tight: TestClient) -> None:
    """Regression (security review): a publishable key could append messages to a conversation
    for ever; the cap refuses the turn before the model is asked."""
    kb_id = tight.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    conversation, owner = _start(tight, kb_id, _visitor(tight, kb_id))
    follow_up = {"kb_id": kb_id, "user_id": "v1", "conversation_id": conversation, "text": "And?"}
    assert tight.post("/v1/messages/send", json=follow_up, headers=owner).status_code == 200
    _limit_reached(tight.post("/v1/messages/send", json=follow_up, headers=owner), 4)
    streamed = tight.post("/v1/messages/send", json=follow_up | {"stream": True}, headers=owner)
    _limit_reached(streamed, 4)  # refused before the stream starts
    assert _press(tight, kb_id, conversation, owner, {"a": 1}).status_code == 409
    assert tight.get(f"/v1/conversations/{conversation}/history").json()["total"] == 4
    assert tight.get(f"/v1/conversations/{conversation}/variables").json()["variables"] == {}


def test_a_visitor_cannot_grow_a_conversations_events_without_bound(
    tight: TestClient, tmp_path: Path
) -> None:
    """Regression (security review): every typing event was kept; now the latest few are, and
    no event is refused."""
    kb_id = tight.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    conversation, owner = _start(tight, kb_id, _visitor(tight, kb_id))
    for kind in ["typing"] * 9 + ["read"]:
        sent = tight.post(
            f"/v1/conversations/{conversation}/events", json={"type": kind}, headers=owner
        )
        assert sent.status_code == 202, sent.text
    status = tight.get(f"/v1/conversations/{conversation}").json()
    assert status["read_at"] is not None and status["typing_at"] is not None
    database = tmp_path / "data" / "kb.sqlite3"
    with sqlite3.connect(database) as connection:
        (kept,) = connection.execute(
            "SELECT COUNT(*) FROM conversation_events WHERE conversation_id = ?", (conversation,)
        ).fetchone()
    assert kept == 3


def test_a_visitor_cannot_file_leads_or_start_conversations_without_bound(
    tight: TestClient,
) -> None:
    """Regression (security review): leads per conversation and conversations per user id had
    no cap a publishable key was held to."""
    kb_id = tight.post("/v1/kbs", json={"name": "shop"}).json()["id"]
    browser = _visitor(tight, kb_id)
    conversation, owner = _start(tight, kb_id, browser)
    lead = {"name": "Ada", "email": "ada@example.com"}
    for _ in range(2):
        filed = tight.post(f"/v1/conversations/{conversation}/lead", json=lead, headers=owner)
        assert filed.status_code == 201, filed.text
    _limit_reached(
        tight.post(f"/v1/conversations/{conversation}/lead", json=lead, headers=owner), 2
    )
    assert tight.get(f"/v1/kbs/{kb_id}/leads").json()["total"] == 2

    _start(tight, kb_id, browser)  # the user's second conversation
    third = tight.post(
        "/v1/messages/send", json={"kb_id": kb_id, "user_id": "v1", "text": "Hi?"}, headers=browser
    )
    _limit_reached(third, 2)
    _start(tight, kb_id, browser, user="v2")  # another user id has its own allowance
