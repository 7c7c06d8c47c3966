"""Every route of the OpenAPI schema refuses a missing key, a wrong key and a key without
the route's scope, and the same for OAuth access tokens; publishable keys reach chat routes only,
and only from their origins; health, docs and the token endpoint stay open."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from kb.access.models import SCOPES

# The documented scope of each route: this table is the API's access policy.
SCOPE_OF: dict[tuple[str, str], str] = {
    ("GET", "/v1/widget/config"): "chat",
    ("GET", "/v1/kbs/{kb_id}/widget"): "admin",
    ("PUT", "/v1/kbs/{kb_id}/widget"): "admin",
    ("POST", "/v1/kbs"): "kb:write",
    ("GET", "/v1/kbs"): "kb:read",
    ("GET", "/v1/kbs/{kb_id}"): "kb:read",
    ("PATCH", "/v1/kbs/{kb_id}"): "kb:write",
    ("DELETE", "/v1/kbs/{kb_id}"): "kb:write",
    ("POST", "/v1/kbs/{kb_id}/documents"): "kb:write",
    ("GET", "/v1/kbs/{kb_id}/documents"): "kb:read",
    ("GET", "/v1/kbs/{kb_id}/documents/{doc_id}"): "kb:read",
    ("GET", "/v1/kbs/{kb_id}/documents/{doc_id}/chunks"): "kb:read",
    ("DELETE", "/v1/kbs/{kb_id}/documents/{doc_id}"): "kb:write",
    ("POST", "/v1/kbs/{kb_id}/search"): "kb:read",
    ("POST", "/v1/kbs/{kb_id}/query"): "chat",
    ("POST", "/v1/kbs/{kb_id}/crawls"): "kb:write",
    ("GET", "/v1/kbs/{kb_id}/crawls"): "kb:read",
    ("GET", "/v1/kbs/{kb_id}/crawls/{crawl_id}"): "kb:read",
    ("DELETE", "/v1/kbs/{kb_id}/crawls/{crawl_id}"): "kb:write",
    ("GET", "/v1/jobs/{job_id}"): "kb:read",
    ("POST", "/v1/kbs/{kb_id}/reindex"): "kb:write",
    ("GET", "/v1/kbs/{kb_id}/reindex"): "kb:read",
    ("GET", "/v1/kbs/{kb_id}/reindex/{job_id}"): "kb:read",
    ("DELETE", "/v1/kbs/{kb_id}/reindex/{job_id}"): "kb:write",
    ("POST", "/v1/messages/send"): "chat",
    ("GET", "/v1/conversations/{conversation_id}"): "chat",
    ("GET", "/v1/conversations/{conversation_id}/history"): "chat",
    ("POST", "/v1/conversations/{conversation_id}/events"): "chat",
    ("GET", "/v1/conversations/{conversation_id}/variables"): "chat",
    ("PUT", "/v1/conversations/{conversation_id}/variables"): "chat",
    ("GET", "/v1/users/{user_id}/profile"): "chat",
    ("PUT", "/v1/users/{user_id}/profile"): "chat",
    ("GET", "/v1/models"): "chat",
    ("POST", "/v1/chat/completions"): "chat",
    ("POST", "/v1/keys"): "admin",
    ("GET", "/v1/keys"): "admin",
    ("DELETE", "/v1/keys/{prefix}"): "admin",
    ("POST", "/v1/keys/{prefix}/rotate"): "admin",
    ("POST", "/v1/oauth/clients"): "admin",
    ("GET", "/v1/oauth/clients"): "admin",
    ("DELETE", "/v1/oauth/clients/{client_id}"): "admin",
    ("GET", "/v1/audit"): "admin",
    ("GET", "/v1/providers"): "admin",
    ("PUT", "/v1/providers/{provider}"): "admin",
    ("DELETE", "/v1/providers/{provider}"): "admin",
    ("GET", "/metrics"): "metrics",
    ("POST", "/v1/webhooks"): "admin",
    ("GET", "/v1/webhooks"): "admin",
    ("GET", "/v1/webhooks/{webhook_id}"): "admin",
    ("PATCH", "/v1/webhooks/{webhook_id}"): "admin",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "admin",
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): "admin",
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): "admin",
    ("POST", "/v1/webhooks/{webhook_id}/ping"): "admin",
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): "admin",
    ("POST", "/v1/conversations/{conversation_id}/lead"): "chat",
    ("POST", "/v1/conversations/{conversation_id}/handoff"): "chat",
    ("GET", "/v1/conversations/{conversation_id}/events"): "chat",
    ("POST", "/v1/conversations/{conversation_id}/messages"): "agent",
    ("POST", "/v1/conversations/{conversation_id}/release"): "agent",
    ("POST", "/v1/conversations/{conversation_id}/close"): "agent",
    ("GET", "/v1/kbs/{kb_id}/handoff"): "admin",
    ("PUT", "/v1/kbs/{kb_id}/handoff"): "admin",
    ("GET", "/v1/kbs/{kb_id}/leads"): "kb:read",
    ("POST", "/v1/messages/{message_id}/feedback"): "chat",
    ("GET", "/v1/kbs/{kb_id}/analytics"): "kb:read",
    ("GET", "/v1/kbs/{kb_id}/conversations/export"): "kb:read",
    ("GET", "/v1/users/{user_id}/export"): "admin",
    ("DELETE", "/v1/users/{user_id}"): "admin",
}
# The token endpoint authenticates the OAuth client itself (tests/api/test_oauth.py).
OPEN = {("GET", "/healthz"), ("GET", "/readyz"), ("POST", "/oauth/token")}
# Chat routes a publishable key may not reach although they need only `chat`.
NOT_PUBLISHABLE = {("GET", "/v1/users/{user_id}/profile"), ("PUT", "/v1/users/{user_id}/profile")}
SITE = "https://shop.example.com"


@pytest.fixture
def anonymous(container: Container) -> TestClient:
    """A client sending no key by default."""
    return TestClient(create_app(container), raise_server_exceptions=False)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(method.upper(), path) for path, item in paths.items() for method in item]


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    url = re.sub(r"\{(\w+)\}", r"\1_x", path)
    body = None if method in ("GET", "DELETE") else {}
    response = client.request(method, url, json=body, headers=headers)
    if response.status_code in (401, 403):
        problem = response.json()
        assert problem["status"] == response.status_code, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        if response.status_code == 401:
            assert problem["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
        else:
            assert problem["code"] == "forbidden"
    return response.status_code


def test_the_policy_covers_every_route_of_the_schema(anonymous: TestClient) -> None:
    assert set(_routes(anonymous)) == set(SCOPE_OF) | OPEN


def test_every_route_refuses_a_missing_a_wrong_and_an_unscoped_key(
    anonymous: TestClient, container: Container
) -> None:
    wrong = {"Authorization": "Bearer kb_live_00000000_not-a-real-key"}
    others = {
        scope: container.keys.create([s for s in SCOPES if s not in (scope, "admin")]).secret
        for scope in SCOPES
    }
    for method, path in _routes(anonymous):
        if (method, path) in OPEN:
            continue
        assert _call(anonymous, method, path, {}) == 401, (method, path)
        assert _call(anonymous, method, path, wrong) == 401, (method, path)
        unscoped = {"X-API-Key": others[SCOPE_OF[(method, path)]]}
        assert _call(anonymous, method, path, unscoped) == 403, (method, path)


def _token(container: Container, scopes: list[str]) -> str:
    client = container.oauth.clients.create(scopes).client
    return container.oauth.issue(client).access_token


def test_every_route_refuses_a_wrong_and_an_unscoped_access_token(
    anonymous: TestClient, container: Container
) -> None:
    good = _token(container, ["kb:read"])
    head, _body, signature = good.split(".")
    tampered = {
        "Authorization": f"Bearer {head}.{_token(container, ['admin']).split('.')[1]}.{signature}"
    }
    tokens = {
        scope: _token(container, [s for s in SCOPES if s not in (scope, "admin")])
        for scope in SCOPES
    }
    for method, path in _routes(anonymous):
        if (method, path) in OPEN:
            continue
        assert _call(anonymous, method, path, tampered) == 401, (method, path)
        unscoped = {"Authorization": f"Bearer {tokens[SCOPE_OF[(method, path)]]}"}
        assert _call(anonymous, method, path, unscoped) == 403, (method, path)


def test_a_publishable_key_reaches_no_route_but_chat_and_only_from_its_origins(
    anonymous: TestClient, container: Container
) -> None:
    kb = container.catalog.create_kb("widget")
    secret = container.keys.create(
        ["chat"], [kb.id], kind="publishable", allowed_origins=[SITE]
    ).secret
    from_site = {"X-API-Key": secret, "Origin": SITE}
    for method, path in _routes(anonymous):
        if (method, path) in OPEN:
            continue
        if SCOPE_OF[(method, path)] != "chat" or (method, path) in NOT_PUBLISHABLE:
            assert _call(anonymous, method, path, from_site) == 403, (method, path)
            continue
        for origin in (None, "https://evil.example", "https://shop.example.com.evil.example"):
            headers = {"X-API-Key": secret} | ({"Origin": origin} if origin else {})
            assert _call(anonymous, method, path, headers) == 403, (method, path, origin)
    models = anonymous.get("/v1/models", headers=from_site)
    assert models.status_code == 200 and [m["id"] for m in models.json()["data"]] == [kb.id]


def test_health_and_docs_stay_open(anonymous: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/docs", "/openapi.json", "/redoc"):
        assert anonymous.get(path).status_code == 200, path
