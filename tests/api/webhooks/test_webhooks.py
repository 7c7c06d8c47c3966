"""Webhooks through the real app and a real receiver on 127.0.0.1: signed deliveries of every
event, retries with backoff, the delivery log, refused URLs, secrets kept secret."""

from __future__ import annotations

import contextlib
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container, build_container
from api.webhooks.delivery import retry_delay
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from kb.settings.service import WebhookSettings
from tests.conftest import REPO, admin_headers, make_settings
from tests.support.crawl_site import FixtureSite, serve
from tests.support.webhook_receiver import Received, Receiver, serve_receiver

PROBLEM_KEYS = {"type", "title", "status", "code", "detail"}
Verify = Callable[[str, dict[str, str], bytes], bool]


def _documented_verifier() -> Verify:
    """The verification snippet exactly as the documentation (docs/api.md) prints it."""
    page = (REPO / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, re.S)
    snippet = next(block for block in blocks if "def verify(" in block)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # our own documentation, run to prove the published snippet works
    verify: Verify = namespace["verify"]
    return verify


verify = _documented_verifier()


def _lower(received: Received) -> dict[str, str]:
    return {k.lower(): v for k, v in received.headers.items()}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve_receiver() as running:
        yield running


def _container(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, allow: bool = True
) -> Container:
    settings = make_settings(
        tmp_path / "data",
        webhook__allowed_hosts=["127.0.0.1"] if allow else [],
        webhook__base_delay_s=0.05,
        webhook__max_attempts=3,
        webhook__timeout_s=5.0,
        crawl__allowed_hosts=["127.0.0.1"],
    )
    return build_container(settings, embedder=embedder)


@pytest.fixture
def app_container(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Container:
    return _container(tmp_path, embedder)


@pytest.fixture
def api(app_container: Container) -> Iterator[TestClient]:
    with TestClient(
        create_app(app_container),
        raise_server_exceptions=False,
        headers=admin_headers(app_container),
    ) as client:
        yield client


def _subscribe(api: TestClient, url: str, events: list[str]) -> dict[str, Any]:
    response = api.post("/v1/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _kb(api: TestClient) -> str:
    return str(api.post("/v1/kbs", json={"name": "hooks"}).json()["id"])


def _wait_delivery(
    api: TestClient, hook_id: str, status: str, timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = api.get(f"/v1/webhooks/{hook_id}/deliveries").json()["items"]
        done = [d for d in items if d["status"] == status]
        if done:
            return dict(done[0])
        time.sleep(0.05)
    raise AssertionError(f"no {status} delivery; log: {items}")


def test_create_shows_the_secret_once_and_stores_it_encrypted(
    api: TestClient, app_container: Container, receiver: Receiver
) -> None:
    created = _subscribe(api, receiver.url, ["document.ingested"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["url"] == receiver.url and created["active"] is True
    assert created["events"] == ["document.ingested"] and created["id"].startswith("wh_")
    listed = api.get("/v1/webhooks").json()
    assert [h["id"] for h in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in api.get(f"/v1/webhooks/{created['id']}").json()
    database = Path(app_container.settings.database_url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as connection:
        (stored,) = connection.execute("SELECT secret_encrypted FROM webhooks").fetchone()
    assert created["secret"] not in stored
    assert app_container.secrets.decrypt(stored) == created["secret"]
    assert created["secret"].encode() not in database.read_bytes()


def test_a_given_secret_is_used_for_signing(api: TestClient, receiver: Receiver) -> None:
    secret = "my-own-shared-secret-0123456789"
    response = api.post(
        "/v1/webhooks", json={"url": receiver.url, "events": ["*"], "secret": secret}
    )
    assert response.status_code == 201 and response.json()["secret"] == secret
    api.post(f"/v1/webhooks/{response.json()['id']}/ping")
    (ping,) = receiver.wait_event("ping")
    assert verify(secret, _lower(ping), ping.body)


def test_uploading_a_document_delivers_a_signed_document_ingested(
    api: TestClient, receiver: Receiver
) -> None:
    hook = _subscribe(api, receiver.url, ["document.ingested"])
    kb_id = _kb(api)
    text = "The staff car park is on level minus two. Bikes go in the courtyard."
    upload = api.post(
        f"/v1/kbs/{kb_id}/documents", json={"title": "Parking", "text": text, "source": "p.md"}
    )
    assert upload.status_code == 201
    (received,) = receiver.wait_event("document.ingested")
    headers = _lower(received)
    assert verify(hook["secret"], headers, received.body)
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "kb-engine-webhooks/1"
    assert re.fullmatch(r"v1=[0-9a-f]{64}", headers["x-kb-signature"])
    payload = received.json()
    assert payload["type"] == "document.ingested" and payload["id"].startswith("evt_")
    assert payload["data"]["document_id"] == upload.json()["document"]["id"]
    assert payload["data"]["kb_id"] == kb_id and payload["data"]["outcome"] == "created"
    assert "car park" not in received.body.decode()  # ids and small fields, never the text
    # A tampered body, a wrong secret or an old timestamp do not verify.
    assert not verify(hook["secret"], headers, received.body.replace(b"created", b"updated"))
    assert not verify("whsec_wrong", headers, received.body)
    stale = {**headers, "x-kb-timestamp": str(int(headers["x-kb-timestamp"]) - 301)}
    assert not verify(hook["secret"], stale, received.body)
    delivery = _wait_delivery(api, hook["id"], "succeeded")
    assert headers["x-kb-delivery"] == delivery["id"]
    assert delivery["event_id"] == payload["id"] and delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200 and delivery["delivered_at"]
    # The same content again is unchanged: nothing new to announce.
    api.post(
        f"/v1/kbs/{kb_id}/documents", json={"title": "Parking", "text": text, "source": "p.md"}
    )
    time.sleep(0.5)
    assert len(receiver.received("document.ingested")) == 1


def test_a_conversation_delivers_started_and_both_messages(
    api: TestClient, receiver: Receiver
) -> None:
    hook = _subscribe(api, receiver.url, ["conversation.started", "message.created"])
    kb_id = _kb(api)
    api.post(f"/v1/kbs/{kb_id}/documents", json={"title": "T", "text": "Lunch is at noon."})
    reply = api.post(
        "/v1/messages/send", json={"kb_id": kb_id, "user_id": "u-1", "text": "When is lunch?"}
    ).json()
    (started,) = receiver.wait_event("conversation.started")
    messages = receiver.wait_event("message.created", count=2)
    conversation_id = reply["conversation_id"]
    assert started.json()["data"] == {
        "conversation_id": conversation_id,
        "kb_id": kb_id,
        "user_id": "u-1",
    }
    data = sorted((m.json()["data"] for m in messages), key=lambda d: d["role"])
    assert [d["role"] for d in data] == ["bot", "user"]
    assert {d["message_id"] for d in data} == {reply["message"]["id"], reply["user_message"]["id"]}
    assert all(d["conversation_id"] == conversation_id for d in data)
    for received in [started, *messages]:
        assert verify(hook["secret"], _lower(received), received.body)


def test_a_crawl_delivers_crawl_completed_with_counts(api: TestClient, receiver: Receiver) -> None:
    hook = _subscribe(api, receiver.url, ["crawl.completed"])
    kb_id = _kb(api)
    site = FixtureSite()
    with serve(site):
        site.html("/", "<h1>Home</h1><p>See the <a href='/a'>page</a>.</p>")
        site.html("/a", "<h1>A</h1><p>Opening hours are nine to five.</p>")
        crawl = api.post(
            f"/v1/kbs/{kb_id}/crawls", json={"start_urls": [site.base + "/"], "delay_s": 0}
        ).json()
        (received,) = receiver.wait_event("crawl.completed")
    data = received.json()["data"]
    assert data["crawl_id"] == crawl["id"] and data["kb_id"] == kb_id
    assert data["status"] == "done" and data["counts"]["ingested"] == 2
    assert verify(hook["secret"], _lower(received), received.body)


def test_a_lead_delivers_lead_created(api: TestClient, receiver: Receiver) -> None:
    hook = _subscribe(api, receiver.url, ["lead.created"])
    kb_id = _kb(api)
    api.post(f"/v1/kbs/{kb_id}/documents", json={"title": "T", "text": "Prices start at 9 EUR."})
    reply = api.post(
        "/v1/messages/send", json={"kb_id": kb_id, "user_id": "u-7", "text": "Prices?"}
    ).json()
    lead = api.post(
        f"/v1/conversations/{reply['conversation_id']}/lead",
        json={"name": "Ada", "email": "ada@example.com", "question": "Volume discount?"},
    )
    assert lead.status_code == 201
    (received,) = receiver.wait_event("lead.created")
    data = received.json()["data"]
    assert data["lead_id"] == lead.json()["id"]
    assert data["conversation_id"] == reply["conversation_id"] and data["kb_id"] == kb_id
    assert data["email"] == "ada@example.com" and data["question"] == "Volume discount?"
    assert verify(hook["secret"], _lower(received), received.body)


def test_a_rotated_secret_signs_alongside_the_old_one_for_the_grace_period(
    api: TestClient, receiver: Receiver
) -> None:
    hook = _subscribe(api, receiver.url, ["*"])
    path = f"/v1/webhooks/{hook['id']}"
    rotated = api.post(f"{path}/rotate-secret", json={"grace_period_s": 3600})
    assert rotated.status_code == 200 and rotated.json()["secret"] != hook["secret"]
    new = rotated.json()["secret"]
    api.post(f"{path}/ping")
    (during,) = receiver.wait_event("ping")
    assert len(during.header("X-KB-Signature").split(",")) == 2
    assert verify(new, _lower(during), during.body)
    assert verify(hook["secret"], _lower(during), during.body)
    ended = api.post(f"{path}/rotate-secret", json={"grace_period_s": 0}).json()["secret"]
    api.post(f"{path}/ping")
    after = receiver.wait_event("ping", count=2)[1]
    assert re.fullmatch(r"v1=[0-9a-f]{64}", after.header("X-KB-Signature"))
    assert verify(ended, _lower(after), after.body)
    assert not verify(new, _lower(after), after.body)
    assert "secret" not in api.get(path).json()


def test_two_errors_then_success_is_three_attempts_of_one_delivery(
    api: TestClient, receiver: Receiver
) -> None:
    hook = _subscribe(api, receiver.url, ["*"])
    receiver.fail_first = 2
    ping = api.post(f"/v1/webhooks/{hook['id']}/ping")
    assert ping.status_code == 202 and ping.json()["status"] == "pending"
    delivery = _wait_delivery(api, hook["id"], "succeeded")
    assert delivery["id"] == ping.json()["id"]
    assert delivery["attempts"] == 3 and delivery["last_status_code"] == 200
    attempts = receiver.received("ping")
    assert [r.status for r in attempts] == [500, 500, 200]
    # Every attempt sends the same delivery id and the same bytes, each signed afresh.
    assert {r.header("X-KB-Delivery") for r in attempts} == {delivery["id"]}
    assert len({r.body for r in attempts}) == 1
    assert all(verify(hook["secret"], _lower(r), r.body) for r in attempts)


def test_a_receiver_that_keeps_failing_ends_failed_and_can_be_redelivered(
    api: TestClient, receiver: Receiver
) -> None:
    hook = _subscribe(api, receiver.url, ["*"])
    receiver.status = 500
    first = api.post(f"/v1/webhooks/{hook['id']}/ping").json()
    failed = _wait_delivery(api, hook["id"], "failed")
    assert failed["id"] == first["id"] and failed["attempts"] == 3  # KB_WEBHOOK__MAX_ATTEMPTS
    assert failed["last_status_code"] == 500 and failed["last_error"] == "HTTP 500"
    assert failed["next_attempt_at"] is None and failed["delivered_at"] is None
    assert len(failed["last_response"]) <= 200  # the receiver sent 2 KB: only a snippet kept
    assert len(receiver.received("ping")) == 3
    listed = api.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"status": "failed"})
    assert listed.json()["total"] == 1
    receiver.status = 200
    again = api.post(f"/v1/webhooks/{hook['id']}/deliveries/{failed['id']}/redeliver")
    assert again.status_code == 202 and again.json()["id"] != failed["id"]
    succeeded = _wait_delivery(api, hook["id"], "succeeded")
    assert succeeded["event_id"] == failed["event_id"]
    bodies = {r.body for r in receiver.received("ping")}
    assert len(bodies) == 1  # the redelivery is byte for byte the same event


def test_a_redirect_is_not_followed(api: TestClient, receiver: Receiver) -> None:
    with serve_receiver() as redirecting:
        redirecting.location = receiver.url
        hook = _subscribe(api, redirecting.url, ["*"])
        api.post(f"/v1/webhooks/{hook['id']}/ping")
        failed = _wait_delivery(api, hook["id"], "failed")
    assert failed["last_status_code"] == 307 and failed["last_error"] == "HTTP 307"
    assert len(redirecting.received("ping")) == 3
    assert receiver.received() == []


def test_pending_deliveries_survive_a_restart(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, receiver: Receiver
) -> None:
    first = _container(tmp_path, embedder)
    first.webhooks.create(receiver.url, ["lead.created"], None, "")
    first.events.publish("lead.created", {"lead_id": "lead_1"})  # no worker runs yet
    first.close()
    assert receiver.received() == []
    second = _container(tmp_path, embedder)
    with TestClient(create_app(second)):  # the app's startup starts the worker
        (received,) = receiver.wait_event("lead.created")
    assert received.json()["data"] == {"lead_id": "lead_1"}


REFUSED_URLS = [
    "http://127.0.0.1:9/hooks",
    "http://10.0.0.7/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hooks",
    "http://0.0.0.0/hooks",
    "ftp://198.51.100.7/hooks",
    "file:///etc/passwd",
    "http:///no-host",
    "https://user:secret@93.184.216.34/hooks",
    "https://93.184.216.34/" + "a" * 2048,
    "http://127.0.0.1:notaport/",
    "http://exa mple.com/",
    "",
]


def test_refused_urls_are_400_url_refused_and_nothing_is_stored(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    container = _container(tmp_path, embedder, allow=False)
    with TestClient(create_app(container), headers=admin_headers(container)) as api:
        for url in REFUSED_URLS:
            response = api.post("/v1/webhooks", json={"url": url, "events": ["*"]})
            assert response.status_code == 400, (url, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            problem = response.json()
            assert set(problem) >= PROBLEM_KEYS and problem["code"] == "url_refused", url
        assert api.get("/v1/webhooks").json() == []


def test_credentials_in_an_allowed_url_are_still_refused(api: TestClient) -> None:
    response = api.post(
        "/v1/webhooks", json={"url": "http://u:p@127.0.0.1:9/hooks", "events": ["*"]}
    )
    assert response.status_code == 400 and response.json()["code"] == "url_refused"
    assert api.get("/v1/webhooks").json() == []


INVALID_SUBSCRIPTIONS: list[dict[str, Any]] = [
    {"url": "http://127.0.0.1:9/", "events": []},
    {"url": "http://127.0.0.1:9/", "events": ["document.deleted"]},
    {"url": "http://127.0.0.1:9/"},
    {"url": "http://127.0.0.1:9/", "events": ["*"], "secret": "short"},
    {"url": "http://127.0.0.1:9/", "events": ["*"], "extra": 1},
]


def test_invalid_subscriptions_are_422(api: TestClient) -> None:
    for body in INVALID_SUBSCRIPTIONS:
        response = api.post("/v1/webhooks", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_failed", body
    assert api.get("/v1/webhooks").json() == []


def test_update_pause_and_delete(api: TestClient, receiver: Receiver) -> None:
    hook = _subscribe(api, receiver.url, ["document.ingested"])
    path = f"/v1/webhooks/{hook['id']}"
    refused = api.patch(path, json={"url": "http://10.0.0.7/hooks"})
    assert refused.status_code == 400 and refused.json()["code"] == "url_refused"
    assert api.get(path).json()["url"] == receiver.url  # unchanged
    paused = api.patch(path, json={"active": False, "events": ["*"], "description": "crm"})
    assert paused.status_code == 200
    assert paused.json() | {"created_at": None} == {
        "id": hook["id"],
        "url": receiver.url,
        "events": ["*"],
        "description": "crm",
        "active": False,
        "created_at": None,
        "consecutive_failures": 0,
        "disabled_reason": None,  # paused by hand, not for failing
    }
    queued = api.post(f"{path}/ping").json()
    time.sleep(0.5)
    assert receiver.received() == []  # paused: the delivery waits
    assert api.patch(path, json={"active": True}).status_code == 200
    assert _wait_delivery(api, hook["id"], "succeeded")["id"] == queued["id"]
    assert api.delete(path).status_code == 204
    missing = api.get(path)
    assert missing.status_code == 404 and missing.json()["code"] == "webhook_not_found"
    gone = api.get(f"{path}/deliveries")
    assert gone.status_code == 404 and gone.json()["code"] == "webhook_not_found"


def test_unknown_delivery_and_webhook_are_404(api: TestClient, receiver: Receiver) -> None:
    hook = _subscribe(api, receiver.url, ["*"])
    response = api.post(f"/v1/webhooks/{hook['id']}/deliveries/dlv_nope/redeliver")
    assert response.status_code == 404 and response.json()["code"] == "delivery_not_found"
    response = api.post("/v1/webhooks/wh_nope/ping")
    assert response.status_code == 404 and response.json()["code"] == "webhook_not_found"


def test_webhook_routes_need_an_unrestricted_admin_key(
    api: TestClient, app_container: Container, receiver: Receiver
) -> None:
    kb_id = _kb(api)
    for scopes, kb_ids in ((["chat", "kb:read", "kb:write"], None), (["admin"], [kb_id])):
        secret = app_container.keys.create(scopes, kb_ids).secret
        response = api.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": ["*"]},
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert api.get("/v1/webhooks").json() == []


def test_retry_delays_double_with_jitter_up_to_the_cap() -> None:
    settings = WebhookSettings(base_delay_s=30, max_delay_s=300)
    for attempts, ceiling in ((1, 30), (2, 60), (3, 120), (4, 240), (5, 300), (9, 300)):
        delays = [retry_delay(attempts, settings) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempts, delays)
        assert len(set(delays)) > 1  # jittered: receivers are not hit in lockstep


def test_a_receiver_dripping_its_answer_cannot_hold_a_worker(
    tmp_path: Path, embedder: SentenceTransformerEmbedder
) -> None:
    """Regression: a receiver sending one byte per read held a delivery worker for minutes
    (httpx's timeout applies per read); the whole attempt is now bounded by twice the timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def drip() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                    if stop.is_set():
                        break
                    with contextlib.suppress(OSError):
                        conn.send(bytes([byte]))
                    time.sleep(0.4)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    settings = make_settings(
        tmp_path / "data",
        webhook__allowed_hosts=["127.0.0.1"],
        webhook__timeout_s=0.5,
        webhook__max_attempts=1,
    )
    container = build_container(settings, embedder=embedder)
    try:
        with TestClient(create_app(container), headers=admin_headers(container)) as api:
            url = f"http://127.0.0.1:{server.getsockname()[1]}/hook"
            hook = _subscribe(api, url, ["*"])
            api.post(f"/v1/webhooks/{hook['id']}/ping")
            failed = _wait_delivery(api, hook["id"], "failed", timeout=15)
            assert failed["last_error"].startswith("gave up after 1 s")
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


def test_a_dead_receiver_is_paused_with_the_reason_and_resumed_by_patch(
    tmp_path: Path, embedder: SentenceTransformerEmbedder, receiver: Receiver
) -> None:
    settings = make_settings(
        tmp_path / "data",
        webhook__allowed_hosts=["127.0.0.1"],
        webhook__max_attempts=1,
        webhook__disable_after_failures=2,
    )
    container = build_container(settings, embedder=embedder)
    with TestClient(create_app(container), headers=admin_headers(container)) as api:
        hook = _subscribe(api, receiver.url, ["*"])
        receiver.status = 500
        for _ in range(2):
            api.post(f"/v1/webhooks/{hook['id']}/ping")
            deadline = time.monotonic() + 15
            while (
                api.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"][0]["status"]
                not in ("failed",)
                and time.monotonic() < deadline
            ):
                time.sleep(0.05)
        shown = api.get(f"/v1/webhooks/{hook['id']}").json()
        assert shown["active"] is False and shown["consecutive_failures"] == 2
        assert shown["disabled_reason"].startswith("paused after 2 failed deliveries")
        assert "HTTP 500" in shown["disabled_reason"]

        receiver.status = 200
        resumed = api.patch(f"/v1/webhooks/{hook['id']}", json={"active": True}).json()
        assert resumed["active"] is True and resumed["disabled_reason"] is None
        assert resumed["consecutive_failures"] == 0
        api.post(f"/v1/webhooks/{hook['id']}/ping")
        _wait_delivery(api, hook["id"], "succeeded")
