"""The widget over HTTP: widget.js served with ETag, 304 and gzip within its size budget; the
per-knowledge-base settings validated and split into an admin and a public part; visitors'
quotas on publishable keys."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from api.web.asset import WIDGET_PATH
from kb.settings import Settings
from tests.conftest import make_settings

SITE = "https://shop.example.com"
BUDGET_GZIPPED = 25 * 1024


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Small quotas, so reaching them is quick."""
    return make_settings(
        tmp_path / "data",
        widget__max_messages_per_conversation=2,
        widget__max_messages_per_address_per_day=3,
    )


def _kb_and_key(client: TestClient, name: str = "shop") -> tuple[str, str]:
    kb_id = client.post("/v1/kbs", json={"name": name, "default_model": "extractive"}).json()["id"]
    client.post(
        f"/v1/kbs/{kb_id}/documents",
        json={"title": "Hours", "text": "The shop opens at nine and closes at six."},
    )
    key = client.post(
        "/v1/keys", json={"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": [SITE]}
    ).json()["secret"]
    return kb_id, key


def test_widget_js_is_served_cached_revalidated_and_compressed(client: TestClient) -> None:
    plain = client.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert plain.content == WIDGET_PATH.read_bytes()
    assert "max-age=" in plain.headers["cache-control"]
    assert plain.headers["cross-origin-resource-policy"] == "cross-origin"
    etag = plain.headers["etag"]
    again = client.get("/widget.js", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/widget.js", headers={"If-None-Match": '"stale"'}).status_code == 200
    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decodes it
    assert int(zipped.headers["content-length"]) < len(plain.content)


def test_widget_js_stays_within_its_gzipped_budget() -> None:
    size = len(gzip.compress(WIDGET_PATH.read_bytes(), compresslevel=9))
    assert size <= BUDGET_GZIPPED, f"widget.js is {size} bytes gzipped"


def test_widget_js_has_no_html_sinks_and_no_eval() -> None:
    """Text nodes and a fixed list of elements only: no string ever becomes markup or code."""
    source = WIDGET_PATH.read_text()
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'setTimeout("',
        "javascript:",
    ):
        assert sink not in source, sink


def test_settings_default_then_replace_and_the_public_part_leaves_private_fields_out(
    client: TestClient,
) -> None:
    kb_id, key = _kb_and_key(client)
    fresh = client.get(f"/v1/kbs/{kb_id}/widget").json()
    assert fresh["updated_at"] is None and fresh["enabled"] is True and fresh["lead"] == "off"
    body = {
        "title": "Shop help",
        "color": "#0F766E",
        "position": "left",
        "welcome": "Hello! Ask about **opening hours**.",
        "suggestions": ["When do you open?"],
        "lang": "fr",
        "lead": "after_answer",
        "lead_fields": ["phone"],
        "privacy_url": "https://shop.example.com/privacy",
        "avatar": "https://cdn.example.com/bot.png",
        "handoff": True,
        "note": "internal: launched in March",
    }
    saved = client.put(f"/v1/kbs/{kb_id}/widget", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["color"] == "#0f766e" and saved.json()["updated_at"]
    assert client.get("/v1/kbs/shop/widget").json() == saved.json()

    public = client.get("/v1/widget/config", params={"key": key}, headers={"Origin": SITE})
    assert public.status_code == 200, public.text
    config = public.json()
    assert config["kb_id"] == kb_id and config["title"] == "Shop help"
    assert config["suggestions"] == ["When do you open?"] and config["lead_fields"] == ["phone"]
    assert "note" not in config and "enabled" not in config and "updated_at" not in config
    assert public.headers["access-control-allow-origin"] == SITE


def test_the_title_defaults_to_the_knowledge_base_name(client: TestClient) -> None:
    _kb_id, key = _kb_and_key(client, "Acme <b>support</b>")
    config = client.get("/v1/widget/config", params={"key": key}, headers={"Origin": SITE})
    assert config.json()["title"] == "Acme <b>support</b>"  # the widget renders it as text


@pytest.mark.parametrize(
    "body",
    [
        {"color": "red"},
        {"color": "#12345"},
        {"color": "#1234567g"},
        {"avatar": "javascript:alert(1)"},
        {"privacy_url": "data:text/html,<script>alert(1)</script>"},
        {"privacy_url": "//evil.example/x"},
        {"title": "x" * 81},
        {"welcome": "x" * 1001},
        {"suggestions": ["q"] * 7},
        {"suggestions": ["x" * 201]},
        {"position": "top"},
        {"lang": "klingon"},
        {"lead": "always"},
        {"lead_fields": ["a", "b", "c", "d", "e", "f"]},
        {"unknown": 1},
    ],
)
def test_invalid_settings_are_refused_and_nothing_is_stored(
    client: TestClient, body: dict[str, object]
) -> None:
    kb_id, _key = _kb_and_key(client)
    refused = client.put(f"/v1/kbs/{kb_id}/widget", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.get(f"/v1/kbs/{kb_id}/widget").json()["updated_at"] is None


def test_config_refusals_are_readable_by_the_page_and_settings_need_admin(
    client: TestClient, container: Container
) -> None:
    kb_id, key = _kb_and_key(client)
    elsewhere = client.get(
        "/v1/widget/config", params={"key": key}, headers={"Origin": "https://evil.example"}
    )
    assert elsewhere.status_code == 403 and elsewhere.json()["code"] == "forbidden"
    # Readable cross-origin, so the widget can say why it does not start.
    assert elsewhere.headers["access-control-allow-origin"] == "https://evil.example"
    anonymous = TestClient(create_app(container))
    missing = anonymous.get("/v1/widget/config")
    assert missing.status_code == 401
    secret = container.keys.create(["chat"]).secret
    in_url = anonymous.get("/v1/widget/config", params={"key": secret, "kb": kb_id})
    assert in_url.status_code == 401  # a secret key does not belong in a URL
    as_header = anonymous.get(
        "/v1/widget/config", params={"kb": kb_id}, headers={"X-API-Key": secret}
    )
    assert as_header.status_code == 200 and as_header.json()["kb_id"] == kb_id
    chat_only = container.keys.create(["chat"]).secret
    assert (
        client.get(
            f"/v1/kbs/{kb_id}/widget", headers={"Authorization": f"Bearer {chat_only}"}
        ).status_code
        == 403
    )
    client.put(f"/v1/kbs/{kb_id}/widget", json={"enabled": False})
    off = client.get("/v1/widget/config", params={"key": key}, headers={"Origin": SITE})
    assert off.status_code == 403


def _send(client: TestClient, key: str, kb_id: str, **extra: object) -> object:
    headers = {"X-API-Key": key, "Origin": SITE}
    token = extra.pop("token", None)
    if token:
        headers["X-Visitor-Token"] = str(token)
    body = {"kb_id": kb_id, "user_id": "visitor_1", "text": "When does the shop open?"} | extra
    return client.post("/v1/messages/send", json=body, headers=headers)


def test_a_visitor_meets_the_conversation_quota_then_the_daily_one(
    container: Container,
) -> None:
    admin = container.keys.create(["admin"]).secret
    with TestClient(create_app(container), headers={"Authorization": f"Bearer {admin}"}) as client:
        kb_id, key = _kb_and_key(client)
        visitor = TestClient(create_app(container))
        first = _send(visitor, key, kb_id)
        assert first.status_code == 200, first.text
        conversation, token = first.json()["conversation_id"], first.json()["visitor_token"]
        assert (
            _send(visitor, key, kb_id, conversation_id=conversation, token=token).status_code == 200
        )
        full = _send(visitor, key, kb_id, conversation_id=conversation, token=token)
        assert full.status_code == 429 and full.json()["quota"] == "conversation"
        assert full.json()["code"] == "rate_limited"
        assert _send(visitor, key, kb_id).status_code == 200  # a new conversation: 3rd today
        daily = _send(visitor, key, kb_id)
        assert daily.status_code == 429 and daily.json()["quota"] == "daily"
        assert int(daily.headers["retry-after"]) > 0
        # Secret keys are not visitors: no quota.
        assert (
            client.post(
                "/v1/messages/send",
                json={"kb_id": kb_id, "user_id": "u", "text": "When does the shop open?"},
            ).status_code
            == 200
        )
