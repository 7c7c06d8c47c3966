"""OAuth clients and access tokens on real SQLite: signed, short-lived, checked on every use."""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path

import jwt
import pytest

from kb.access.oauth import (
    AUDIENCE,
    ISSUER,
    KEY_FILE,
    OAuthClientRepository,
    OAuthService,
    signing_keys,
)
from kb.db.registry import Registry
from kb.errors import InvalidInput, OAuthClientNotFound, OAuthInvalidScope

KEY = "k" * 40


@pytest.fixture
def oauth(tmp_path: Path) -> OAuthService:
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    return OAuthService(OAuthClientRepository(registry.engine), [KEY], ttl_s=900)


def _claims(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(token, KEY, algorithms=["HS256"], audience=AUDIENCE)
    return claims


def test_a_token_names_its_client_scopes_and_knowledge_bases(oauth: OAuthService) -> None:
    issued = oauth.clients.create(["kb:read", "chat"], ["kb_1"], name="crm")
    assert issued.client.client_id.startswith("kbc_") and len(issued.secret) > 40
    client = oauth.clients.authenticate(issued.client.client_id, issued.secret)
    assert client == issued.client
    token = oauth.issue(client, "chat")
    claims = _claims(token.access_token)
    assert claims["iss"] == ISSUER and claims["sub"] == client.client_id
    assert claims["scope"] == "chat" == token.scope and claims["kb_ids"] == ["kb_1"]
    assert token.expires_in == 900
    assert int(str(claims["exp"])) - int(str(claims["iat"])) == 900
    caller = oauth.authenticate(token.access_token)
    assert caller is not None and caller.kind == "oauth"
    assert caller.scopes == ("chat",) and caller.kb_ids == ("kb_1",)
    assert not caller.has_scope("kb:read") and not caller.may_reach("kb_2")


def test_wrong_secrets_and_revoked_clients_get_nothing(oauth: OAuthService) -> None:
    issued = oauth.clients.create(["chat"])
    client_id = issued.client.client_id
    assert oauth.clients.authenticate(client_id, issued.secret + "x") is None
    assert oauth.clients.authenticate("kbc_unknown", issued.secret) is None
    token = oauth.issue(issued.client).access_token
    assert oauth.authenticate(token) is not None
    oauth.clients.revoke(client_id)
    assert oauth.authenticate(token) is None  # at once, not when the token expires
    assert oauth.clients.authenticate(client_id, issued.secret) is None
    with pytest.raises(OAuthClientNotFound):
        oauth.clients.revoke("kbc_unknown")


def test_scope_requests_beyond_the_client_are_refused(oauth: OAuthService) -> None:
    reader = oauth.clients.create(["kb:read"]).client
    for asked in ("chat", "kb:read admin", "root"):
        with pytest.raises(OAuthInvalidScope):
            oauth.issue(reader, asked)
    admin = oauth.clients.create(["admin"]).client
    assert oauth.issue(admin, "kb:read chat").scope == "chat kb:read"  # admin implies all
    with pytest.raises(InvalidInput):
        oauth.clients.create(["root"])


def _part(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_expired_tampered_unsigned_and_foreign_tokens_are_refused(oauth: OAuthService) -> None:
    client = oauth.clients.create(["chat"]).client
    good = oauth.issue(client).access_token
    claims = _claims(good)
    head, body, signature = good.split(".")
    admin_claims = claims | {"scope": "admin"}
    refused = [
        jwt.encode(claims | {"exp": int(time.time()) - 5}, KEY, algorithm="HS256"),
        jwt.encode(claims | {"aud": "another-api"}, KEY, algorithm="HS256"),
        jwt.encode(claims | {"iss": "someone-else"}, KEY, algorithm="HS256"),
        jwt.encode(claims, "another key of enough length, surely", algorithm="HS256"),
        jwt.encode({k: v for k, v in claims.items() if k != "jti"}, KEY, algorithm="HS256"),
        f"{_part({'alg': 'none', 'typ': 'JWT'})}.{_part(admin_claims)}.",
        f"{_part({'alg': 'HS512', 'typ': 'JWT'})}.{body}.{signature}",
        f"{head}.{_part(admin_claims)}.{signature}",
        f"{head}.{body}.{signature[:-2]}AA",
        "not.a.token",
        "",
    ]
    for token in refused:
        assert oauth.authenticate(token) is None, token
    assert oauth.authenticate(good) is not None


def test_a_token_keeps_no_scope_its_client_no_longer_has(oauth: OAuthService) -> None:
    """A scope claim edited in a validly signed token cannot exceed the client's scopes."""
    client = oauth.clients.create(["chat"]).client
    claims = _claims(oauth.issue(client).access_token) | {"scope": "chat admin"}
    caller = oauth.authenticate(jwt.encode(claims, KEY, algorithm="HS256"))
    assert caller is not None and caller.scopes == ("chat",)


def test_signing_keys_rotate_and_are_generated_privately(tmp_path: Path) -> None:
    registry = Registry(f"sqlite:///{tmp_path / 'kb.sqlite3'}")
    clients = OAuthClientRepository(registry.engine)
    client = clients.create(["chat"]).client
    old = OAuthService(clients, ["o" * 32], ttl_s=60)
    token = old.issue(client).access_token
    rotated = OAuthService(clients, ["n" * 32, "o" * 32], ttl_s=60)
    assert rotated.authenticate(token) is not None  # older keys still verify
    assert jwt.get_unverified_header(rotated.issue(client).access_token)["alg"] == "HS256"
    assert OAuthService(clients, ["n" * 32], ttl_s=60).authenticate(token) is None
    with pytest.raises(ValueError, match="at least 32"):
        signing_keys("short", tmp_path)
    generated = signing_keys(None, tmp_path / "data")
    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(generated[0]) >= 32
    assert signing_keys(None, tmp_path / "data") == generated  # stable across restarts
    assert signing_keys(f"{'a' * 32}, {'b' * 32}", tmp_path) == ["a" * 32, "b" * 32]
