"""Every route of the OpenAPI schema refuses a missing key, a wrong key and a key without
the route's scope; health and docs stay open."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from kb.keys import SCOPES

# The documented scope of each route: this table is the API's access policy.
SCOPE_OF: dict[tuple[str, str], str] = {
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
}
OPEN = {("GET", "/healthz"), ("GET", "/readyz")}


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


def test_health_and_docs_stay_open(anonymous: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/docs", "/openapi.json", "/redoc"):
        assert anonymous.get(path).status_code == 200, path
