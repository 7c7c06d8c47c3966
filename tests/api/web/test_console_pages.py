"""The console's pages do what the API does, through the same services: knowledge bases
(create, rename, model, typed-confirmation delete), documents (upload outcomes, search, filter,
pages, passages, delete), crawls (start, live status, cancel, again), the widget settings and
snippet, and keys (secret shown once, publishable with origins, revoke, rotate)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import Container
from kb.settings import Settings
from tests.api.web.test_console import BASE, Console
from tests.conftest import make_settings
from tests.support.crawl_site import FixtureSite, serve
from tests.support.fakes.openai import FakeOpenAIServer
from tests.support.webhook_receiver import serve_receiver


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Default settings; crawls and webhooks may reach the loopback test servers."""
    return make_settings(
        tmp_path / "data",
        crawl__allowed_hosts=["127.0.0.1"],
        webhook__allowed_hosts=["127.0.0.1"],
    )


@pytest.fixture
def admin(container: Container) -> Iterator[Console]:
    """A console signed in with an admin key."""
    secret = container.keys.create(["admin"], name="ops").secret
    app = create_app(container)
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        console = Console(client)
        assert console.sign_in(secret).status_code == 303
        yield console


def _upload(console: Console, kb_id: str, name: str, data: bytes) -> Any:
    return console.http.post(
        f"/console/api/kbs/{kb_id}/documents",
        files={"file": (name, data)},
        headers={"X-CSRF-Token": console.csrf},
    )


def test_create_rename_set_model_and_delete_with_typed_confirmation(
    admin: Console, container: Container
) -> None:
    created = admin.post("/console/kbs", {"name": "Support", "description": "Help desk"})
    assert created.status_code == 303
    kb_id = created.headers["location"].split("/")[3]
    assert container.catalog.get_kb(kb_id).name == "Support"
    duplicate = admin.post("/console/kbs", {"name": "Support"})
    assert duplicate.status_code == 409 and "Support" in duplicate.text
    saved = admin.post(
        f"/console/kbs/{kb_id}/settings",
        {"name": "Help", "description": "", "default_model": "extractive", "verification": "flag"},
    )
    assert saved.status_code == 303
    kb = container.catalog.get_kb(kb_id)
    assert (kb.name, kb.default_model, kb.verification) == ("Help", "extractive", "flag")
    page = admin.page(f"/console/kbs/{kb_id}/settings?saved=1")
    assert "Saved." in page.text and 'value="extractive"' in page.text
    bad_model = admin.post(
        f"/console/kbs/{kb_id}/settings", {"name": "Help", "default_model": "nope"}
    )
    assert bad_model.status_code >= 400 and container.catalog.get_kb(kb_id).default_model
    wrong = admin.post(f"/console/kbs/{kb_id}/delete", {"confirm": "help"})
    assert wrong.status_code == 400 and "nothing was deleted" in wrong.text
    assert container.catalog.get_kb(kb_id)
    deleted = admin.post(f"/console/kbs/{kb_id}/delete", {"confirm": "Help"})
    assert deleted.status_code == 303
    assert container.catalog.list_kbs(10, 0)[1] == 0


def test_uploads_report_created_unchanged_replaced_and_refused(
    admin: Console, container: Container
) -> None:
    kb = container.catalog.create_kb("docs")
    first = _upload(admin, kb.id, "hours.md", b"# Hours\n\nWe open at nine.")
    assert first.status_code == 200 and first.json()["outcome"] == "created"
    assert first.json()["document"]["status"] == "ready"
    again = _upload(admin, kb.id, "hours.md", b"# Hours\n\nWe open at nine.")
    assert again.json()["outcome"] == "unchanged"
    newer = _upload(admin, kb.id, "hours.md", b"# Hours\n\nWe open at ten.")
    assert newer.json()["outcome"] == "updated"  # shown as "replaced (new content)"
    refused = _upload(admin, kb.id, "empty.md", b"   ")
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["detail"]
    binary = _upload(admin, kb.id, "tool.exe", b"MZ\x90\x00" + bytes(range(256)) * 4)
    assert binary.status_code in (415, 422) and binary.json()["detail"]


def test_documents_list_search_filter_pages_passages_and_delete(
    admin: Console, container: Container
) -> None:
    kb = container.catalog.create_kb("many")
    for i in range(30):
        assert _upload(
            admin, kb.id, f"note-{i:02}.md", f"# Note {i}\n\nFact {i}.".encode()
        ).is_success
    first = admin.page(f"/console/kbs/{kb.id}/documents")
    assert first.status_code == 200 and "Page 1 of 2" in first.text
    assert first.text.count('class="doc-title"') == 25
    second = admin.page(f"/console/kbs/{kb.id}/documents?page=2")
    assert second.text.count('class="doc-title"') == 5
    found = admin.page(f"/console/kbs/{kb.id}/documents?q=NOTE-07")
    titles = re.findall(r'class="doc-title"[^>]*>([^<]+)<', found.text)
    assert titles == ["Note 7"]
    failed = admin.page(f"/console/kbs/{kb.id}/documents?status=failed")
    assert "No document matches." in failed.text
    doc_id = re.search(r"/documents/(doc_\w+)", found.text)
    assert doc_id
    detail = admin.page(f"/console/kbs/{kb.id}/documents/{doc_id.group(1)}")
    assert detail.status_code == 200 and "Fact 7." in detail.text
    assert "upload it again" in detail.text  # a file is re-ingested by uploading it again
    deleted = admin.post(f"/console/kbs/{kb.id}/documents/{doc_id.group(1)}/delete")
    assert deleted.status_code == 303
    assert container.catalog.list_documents(kb.id, 100, 0)[1] == 29


def test_a_crawl_starts_reports_its_counts_and_runs_again(
    admin: Console, container: Container
) -> None:
    kb = container.catalog.create_kb("site")
    site = FixtureSite()
    with serve(site):
        site.html("/", "<h1>Home</h1><p>Welcome to the shop.</p><a href='/a'>a</a>")
        site.html("/a", "<h1>A</h1><p>The shop opens at nine.</p>")
        started = admin.post(
            f"/console/kbs/{kb.id}/crawls",
            {
                "start_urls": site.base + "/\n",
                "max_pages": "10",
                "max_depth": "",
                "use_sitemaps": "on",
            },
        )
        assert started.status_code == 303, started.text
        page = admin.page(f"/console/kbs/{kb.id}/crawls")
        poll = re.search(r'data-poll="([^"]+)"', page.text)
        job = _finished(admin, poll.group(1)) if poll else None
        if job is None:  # it finished before the page was drawn
            job = container.crawls.list_jobs(kb.id, 1, 0)[0][0].__dict__
        assert job["status"] == "done"
        done = admin.page(f"/console/kbs/{kb.id}/crawls")
        assert "Crawl again" in done.text and site.base in done.text
        crawl_id = re.search(r"/crawls/(\w+)/recrawl", done.text)
        assert crawl_id
        again = admin.post(f"/console/kbs/{kb.id}/crawls/{crawl_id.group(1)}/recrawl")
        assert again.status_code == 303
        deadline = time.monotonic() + 30
        while container.crawls.list_jobs(kb.id, 1, 0)[0][0].status in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert container.crawls.list_jobs(kb.id, 10, 0)[1] == 2
    assert container.catalog.list_documents(kb.id, 10, 0)[1] == 2
    _cancel_a_running_crawl(admin, container, kb.id)
    refused = admin.post(f"/console/kbs/{kb.id}/crawls", {"start_urls": "ftp://example.com/"})
    assert refused.status_code == 400 and "ftp" in refused.text


def _cancel_a_running_crawl(console: Console, container: Container, kb_id: str) -> None:
    site = FixtureSite()
    gate = threading.Event()
    with serve(site):
        site.html("/", "<h1>Slow</h1><p>A page that takes its time.</p>", gate=gate)
        console.post(f"/console/kbs/{kb_id}/crawls", {"start_urls": site.base + "/"})
        job = container.crawls.list_jobs(kb_id, 1, 0)[0][0]
        page = console.page(f"/console/kbs/{kb_id}/crawls")
        assert f"/crawls/{job.id}/cancel" in page.text
        cancelled = console.post(f"/console/kbs/{kb_id}/crawls/{job.id}/cancel")
        assert cancelled.status_code == 303
        gate.set()
        state = _finished(console, f"/console/api/kbs/{kb_id}/crawls/{job.id}")
    assert state["status"] == "cancelled"


def _finished(console: Console, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        job: dict[str, Any] = console.http.get(url).json()
        if job["status"] not in ("queued", "running"):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_widget_settings_are_validated_saved_and_the_snippet_shown(
    admin: Console, container: Container
) -> None:
    kb = container.catalog.create_kb("shop")
    page = admin.page(f"/console/kbs/{kb.id}/widget")
    assert page.status_code == 200 and "/widget.js" in page.text and "WordPress" in page.text
    saved = admin.post(
        f"/console/kbs/{kb.id}/widget",
        {
            "enabled": "on",
            "title": "Ask us",
            "color": "#1D4ED8",
            "position": "left",
            "suggestions": "When do you open?\nWhere are you?",
            "lead": "off",
            "citations": "on",
        },
    )
    assert saved.status_code == 303
    stored, _updated = container.widgets.get(kb.id)
    assert stored["title"] == "Ask us" and stored["color"] == "#1d4ed8"
    assert stored["suggestions"] == ["When do you open?", "Where are you?"]
    assert stored["handoff"] is False and stored["citations"] is True
    bad = admin.post(f"/console/kbs/{kb.id}/widget", {"color": "red", "lead": "off"})
    assert bad.status_code == 422 and "colour" in bad.text


def test_keys_secret_shown_once_publishable_snippet_revoke_and_rotate(
    admin: Console, container: Container
) -> None:
    kb = container.catalog.create_kb("shop")
    made = admin.post(
        "/console/keys", {"name": "backend", "kind": "secret", "scopes": ["kb:read", "chat"]}
    )
    assert made.status_code == 201
    secret = re.search(r'id="secret" class="secret" value="([^"]+)"', made.text)
    assert secret and container.keys.authenticate(secret.group(1))
    listing = admin.page("/console/keys")
    assert "backend" in listing.text and secret.group(1) not in listing.text
    widget = admin.post(
        "/console/keys",
        {"kind": "publishable", "kb_ids": [kb.id], "allowed_origins": "https://shop.example"},
    )
    assert widget.status_code == 201
    public = re.search(r'value="(kb_pub_[^"]+)"', widget.text)
    assert public
    assert f"data-key=&#34;{public.group(1)}&#34;" in widget.text  # the snippet, escaped
    no_origin = admin.post("/console/keys", {"kind": "publishable", "kb_ids": [kb.id]})
    assert no_origin.status_code == 400 and "origin" in no_origin.text
    prefix = secret.group(1)[:16]
    rotated = admin.post(f"/console/keys/{prefix}/rotate")
    assert rotated.status_code == 201 and "kb_live_" in rotated.text
    assert container.keys.get(prefix).replaced_by
    revoked = admin.post(f"/console/keys/{prefix}/revoke")
    assert revoked.status_code == 303
    assert container.keys.authenticate(secret.group(1)) is None


def test_conversations_list_filters_and_transcript_with_citations(
    admin: Console, container: Container
) -> None:
    kb = container.catalog.create_kb("shop", default_model="extractive")
    other = container.catalog.create_kb("other", default_model="extractive")
    assert _upload(admin, kb.id, "hours.md", b"# Hours\n\nThe shop opens at nine.").is_success
    asked = admin.post(f"/console/kbs/{kb.id}/try", {"question": "When does the shop open?"})
    conversation_id = asked.headers["location"].split("conversation=")[1].split("#")[0]
    admin.post(f"/console/kbs/{kb.id}/try", {"question": "What is the capital of Peru?"})
    admin.post(f"/console/kbs/{other.id}/try", {"question": "Anything <b>there</b>?"})
    everything = admin.page("/console/conversations")
    assert everything.status_code == 200 and "3 conversations" in everything.text
    assert "Anything &lt;b&gt;there&lt;/b&gt;?" in everything.text
    in_shop = admin.page(f"/console/conversations?kb={kb.id}")
    assert "2 conversations" in in_shop.text
    unanswered = admin.page(f"/console/conversations?kb={kb.id}&answered=no")
    assert "1 conversation<" in unanswered.text and "Peru" in unanswered.text
    answered = admin.page(f"/console/conversations?kb={kb.id}&answered=yes")
    assert "1 conversation<" in answered.text and "open?" in answered.text
    future = admin.page("/console/conversations?since=2999-01-01")
    assert "No conversation matches." in future.text
    transcript = admin.page(f"/console/conversations/{conversation_id}")
    assert transcript.status_code == 200
    assert "When does the shop open?" in transcript.text and "Visitor" in transcript.text
    assert "The shop opens at nine." in transcript.text and "score " in transcript.text

    restricted = container.keys.create(["kb:read", "chat"], [other.id]).secret
    with TestClient(create_app(container), base_url=BASE) as client:
        browser = Console(client)
        browser.sign_in(restricted)
        mine = browser.page("/console/conversations")
        assert "1 conversation<" in mine.text and "Peru" not in mine.text
        assert browser.page(f"/console/conversations?kb={kb.id}").status_code == 403
        assert browser.page(f"/console/conversations/{conversation_id}").status_code == 403


def test_webhooks_secret_once_test_delivery_log_redeliver_pause_delete(
    admin: Console, container: Container
) -> None:
    with serve_receiver() as receiver:
        no_event = admin.post("/console/webhooks", {"url": receiver.url})
        assert no_event.status_code == 400
        made = admin.post(
            "/console/webhooks",
            {"url": receiver.url, "events": ["document.ingested"], "description": "CRM"},
        )
        assert made.status_code == 201
        secret = re.search(r'id="secret" class="secret" value="([^"]+)"', made.text)
        assert secret and secret.group(1).startswith("whsec_")
        hook = container.webhooks.repository.all()[0]
        page = admin.page(f"/console/webhooks/{hook.id}")
        assert receiver.url in page.text and secret.group(1) not in page.text
        assert admin.post(f"/console/webhooks/{hook.id}/ping").status_code == 303
        receiver.wait_event("ping")
        deadline = time.monotonic() + 30
        while "succeeded" not in admin.page(f"/console/webhooks/{hook.id}").text:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        log = admin.page(f"/console/webhooks/{hook.id}?state=succeeded")
        delivery = re.search(r"/deliveries/(\w+)/redeliver", log.text)
        assert delivery and "HTTP 200" in log.text
        again = admin.post(f"/console/webhooks/{hook.id}/deliveries/{delivery.group(1)}/redeliver")
        assert again.status_code == 303
        receiver.wait_event("ping", count=2)
    paused = admin.post(f"/console/webhooks/{hook.id}/active")
    assert paused.status_code == 303 and not container.webhooks.repository.get(hook.id).active
    admin.post(f"/console/webhooks/{hook.id}/active", {"active": "true"})
    assert container.webhooks.repository.get(hook.id).active
    assert admin.post(f"/console/webhooks/{hook.id}/delete").status_code == 303
    assert container.webhooks.repository.all() == []


def test_provider_keys_are_stored_never_shown_and_forgotten(
    admin: Console, container: Container
) -> None:
    page = admin.page("/console/providers")
    assert page.status_code == 200 and "openai" in page.text
    bad = admin.post(
        "/console/providers/openai", {"api_key": "sk-test-1234", "base_url": "ftp://x"}
    )
    assert bad.status_code == 422
    saved = admin.post("/console/providers/openai", {"api_key": "sk-test-secret-9876"})
    assert saved.status_code == 303
    listed = admin.page("/console/providers")
    assert "9876" in listed.text and "sk-test-secret" not in listed.text
    unknown = admin.post("/console/providers/nope", {"api_key": "sk-test-1234"})
    assert unknown.status_code == 404
    assert admin.post("/console/providers/openai/delete").status_code == 303
    assert "openai" not in container.credentials.list()


def test_the_audit_log_names_console_actions_with_the_key(
    admin: Console, container: Container
) -> None:
    admin.post("/console/kbs", {"name": "audited"})
    admin.post("/console/kbs", {"name": "x", "csrf_token": "forged"})
    page = admin.page("/console/audit")
    assert page.status_code == 200
    entries, _total = container.audit.list(50, 0)
    created = [e for e in entries if e.route == "/console/kbs" and e.status == 303]
    assert created and created[0].actor.startswith("kb_live_")
    assert "/console/kbs" in page.text
    only = admin.page(f"/console/audit?actor={created[0].actor}")
    assert created[0].actor in only.text


def test_oauth_clients_secret_once_and_revoke(admin: Console, container: Container) -> None:
    kb = container.catalog.create_kb("crm")
    assert admin.post("/console/oauth-clients", {"name": "crm"}).status_code == 400
    made = admin.post(
        "/console/oauth-clients", {"name": "crm", "scopes": ["kb:read"], "kb_ids": [kb.id]}
    )
    assert made.status_code == 201
    client_id = re.search(r'id="client-id" class="secret" value="([^"]+)"', made.text)
    secret = re.search(r'id="secret" class="secret" value="([^"]+)"', made.text)
    assert client_id and secret
    assert container.oauth.clients.authenticate(client_id.group(1), secret.group(1))
    listing = admin.page("/console/oauth-clients")
    assert client_id.group(1) in listing.text and secret.group(1) not in listing.text
    assert "crm" in listing.text
    revoked = admin.post(f"/console/oauth-clients/{client_id.group(1)}/revoke")
    assert revoked.status_code == 303
    assert container.oauth.clients.authenticate(client_id.group(1), secret.group(1)) is None


def test_test_connection_reaches_the_provider_or_says_why_not(
    admin: Console, container: Container, provider: FakeOpenAIServer
) -> None:
    """The connection test goes through the registry with the stored key (a real client
    against the provider stand-in)."""
    admin.post(
        "/console/providers/openai", {"api_key": "sk-test-key-1234", "base_url": provider.base_url}
    )
    ok = admin.post("/console/providers/openai/test")
    assert ok.status_code == 200 and "Connected" in ok.text
    assert provider.requests and provider.requests[-1].headers["authorization"].endswith("1234")
    missing = admin.post("/console/providers/anthropic/test")
    assert missing.status_code == 502 and 'class="alert"' in missing.text
    assert admin.post("/console/providers/nope/test").status_code == 404
