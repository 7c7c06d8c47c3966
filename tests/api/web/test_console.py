"""The web console over HTTP: signing in exchanges a key for a server-side session (the key never
reaches the browser again), sessions expire and end with sign-out or a revoked key, every write
needs the same origin and the session's CSRF token, pages carry a strict CSP, user strings are
escaped, and a restricted key reaches only its knowledge bases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.console.session import SESSION_COOKIE
from api.container import Container
from api.routes.console import PAGES
from ingest.sources import RawSource

BASE = "http://testserver"
_CSRF = re.compile(r'name="csrf-token" content="([^"]*)"')
_SIGN_IN = re.compile(r'name="sign_in_token" value="([^"]+)"')


class Console:
    """A browser's view of the console: cookies kept, forms posted with their tokens."""

    def __init__(self, client: TestClient) -> None:
        self.http = client
        self.csrf = ""

    def sign_in(self, secret: str, next_page: str = "") -> httpx.Response:
        """Fill in and send the sign-in form."""
        page = self.http.get("/console/sign-in")
        token = _SIGN_IN.search(page.text)
        assert token, page.text
        response = self.http.post(
            "/console/sign-in",
            data={"api_key": secret, "sign_in_token": token.group(1), "next": next_page},
            follow_redirects=False,
        )
        if response.status_code == 303:
            self.page("/console/kbs")
        return response

    def page(self, path: str) -> httpx.Response:
        """GET a page, remembering its CSRF token."""
        response = self.http.get(path, follow_redirects=False)
        found = _CSRF.search(response.text)
        if found and found.group(1):
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        """POST a form with the session's CSRF token."""
        body = {"csrf_token": self.csrf, **(data or {})}
        return self.http.post(path, data=body, follow_redirects=False, **kwargs)


@pytest.fixture
def anonymous(container: Container) -> Iterator[TestClient]:
    """A client with no key and no cookie."""
    with TestClient(create_app(container), base_url=BASE, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def console(anonymous: TestClient) -> Console:
    """A console browser, not signed in yet."""
    return Console(anonymous)


@pytest.fixture
def admin_secret(container: Container) -> str:
    """A new admin key's secret."""
    return container.keys.create(["admin"], name="ops").secret


def test_pages_send_the_signed_out_browser_to_sign_in(anonymous: TestClient) -> None:
    response = anonymous.get("/console/kbs?page=2", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fkbs%3Fpage%3D2"
    api = anonymous.get("/console/api/kbs/kb_x/crawls/c_x")
    assert api.status_code == 401
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["code"] == "unauthorized"


def test_every_console_route_but_sign_in_and_static_needs_a_session(
    anonymous: TestClient,
) -> None:
    """The console is outside the /v1 schema walked by test_auth_every_route: walk it here."""
    open_paths = {"/console/sign-in", "/console/static/{name}"}
    routes = [
        (method, route.path)
        for module in PAGES
        for route in module.router.routes
        for method in getattr(route, "methods", ()) or ()
    ]
    assert len(routes) >= 20
    for method, path in routes:
        if path in open_paths:
            continue
        url = re.sub(r"\{(\w+)\}", r"\1_x", path)
        response = anonymous.request(method, url, follow_redirects=False)
        if method == "POST":
            # Without a session there is no CSRF token: refused either way, never performed.
            assert response.status_code in (303, 401, 403), (method, path)
        elif path.startswith("/console/api/"):
            assert response.status_code == 401, (method, path)
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/console/sign-in"), (method, path)


def test_sign_in_exchanges_the_key_for_an_httponly_strict_session(
    console: Console, admin_secret: str, container: Container
) -> None:
    response = console.sign_in(admin_secret, "/console/keys")
    assert response.status_code == 303 and response.headers["location"] == "/console/keys"
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https sets it (next test)
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert admin_secret not in cookie and session_id != admin_secret
    assert container.sessions.find(session_id) is not None
    page = console.page("/console/kbs")
    assert page.status_code == 200 and "ops" in page.text
    assert admin_secret not in page.text  # the key is never rendered back


def test_the_session_cookie_is_secure_over_https(container: Container, admin_secret: str) -> None:
    with TestClient(create_app(container), base_url="https://console.test") as client:
        response = Console(client).sign_in(admin_secret)
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "Secure" in cookie


def test_a_wrong_a_publishable_and_a_chat_only_key_cannot_sign_in(
    console: Console, container: Container
) -> None:
    kb = container.catalog.create_kb("shop")
    publishable = container.keys.create(
        ["chat"], [kb.id], kind="publishable", allowed_origins=["https://shop.example"]
    ).secret
    chat_only = container.keys.create(["chat"]).secret
    for secret, status in (
        ("kb_live_00000000_nope", 401),
        (publishable, 403),
        (chat_only, 403),
    ):
        response = console.sign_in(secret)
        assert response.status_code == status, secret
        assert 'role="alert"' in response.text
        assert f"{SESSION_COOKIE}=" not in response.headers.get("set-cookie", "")
    assert container.sessions.count() == 0


def test_sign_in_attempts_are_rate_limited_per_address(
    container: Container, console: Console
) -> None:
    container.settings.console.sign_in_rate_limit = "3/minute"
    with TestClient(create_app(container), base_url=BASE) as client:
        browser = Console(client)
        codes = [browser.sign_in("kb_live_00000000_guess").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_the_sign_in_form_refuses_a_missing_token_and_another_origin(
    anonymous: TestClient, admin_secret: str
) -> None:
    no_token = anonymous.post("/console/sign-in", data={"api_key": admin_secret})
    assert no_token.status_code == 403 and "expired" in no_token.text
    page = anonymous.get("/console/sign-in")
    token = _SIGN_IN.search(page.text)
    assert token
    forged = anonymous.post(
        "/console/sign-in",
        data={"api_key": admin_secret, "sign_in_token": token.group(1)},
        headers={"Origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and "another web site" in forged.text


def test_writes_need_the_session_csrf_token_and_the_same_origin(
    console: Console, admin_secret: str, container: Container
) -> None:
    console.sign_in(admin_secret)
    missing = console.http.post("/console/kbs", data={"name": "a"}, follow_redirects=False)
    wrong = console.http.post(
        "/console/kbs", data={"name": "b", "csrf_token": "x" * 43}, follow_redirects=False
    )
    cross_site = console.post("/console/kbs", {"name": "c"}, headers={"Origin": "https://evil.ex"})
    for response in (missing, wrong, cross_site):
        assert response.status_code == 403
        assert "Request refused" in response.text and "forgery" in response.text
    assert container.catalog.list_kbs(10, 0)[1] == 0
    json_refused = console.http.post(
        "/console/api/kbs/kb_x/documents", files={"file": ("a.md", b"# A")}
    )
    assert json_refused.status_code == 403
    assert json_refused.headers["content-type"] == "application/problem+json"
    assert json_refused.json()["code"] == "forbidden"
    done = console.post("/console/kbs", {"name": "d"})
    assert done.status_code == 303 and container.catalog.list_kbs(10, 0)[1] == 1


def test_sign_out_ends_the_session_on_the_server(
    console: Console, admin_secret: str, container: Container
) -> None:
    console.sign_in(admin_secret)
    session_id = console.http.cookies.get(SESSION_COOKIE)
    assert container.sessions.find(session_id) is not None
    response = console.post("/console/sign-out")
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in"
    assert container.sessions.find(session_id) is None
    # Even a copy of the old cookie opens nothing.
    console.http.cookies.set(SESSION_COOKIE, session_id or "", path="/console")
    assert console.page("/console/kbs").status_code == 303


def test_a_revoked_key_ends_its_sessions(
    console: Console, admin_secret: str, container: Container
) -> None:
    console.sign_in(admin_secret)
    assert console.page("/console/kbs").status_code == 200
    container.keys.revoke(admin_secret[:16])
    assert console.page("/console/kbs").status_code == 303
    assert container.sessions.count() == 0


def test_idle_and_absolute_expiry(container: Container) -> None:
    store = container.sessions
    session_id, _session = store.open("kb_live_aaaaaaaa")
    assert store.find(session_id) is not None
    store.idle = timedelta(seconds=-1)
    assert store.find(session_id) is None  # idle too long: gone, and deleted
    store.idle = timedelta(hours=1)
    assert store.find(session_id) is None
    other, _session = store.open("kb_live_aaaaaaaa")
    store.lifetime = timedelta(seconds=-1)
    assert store.find(other) is None


def test_pages_have_a_strict_csp_and_static_files_are_cached(
    console: Console, admin_secret: str
) -> None:
    console.sign_in(admin_secret)
    page = console.page("/console/kbs")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text  # no inline script: the one script is a file
    assert not re.search(r"<[^>]+\son\w+=", page.text)  # no inline event handlers
    script = console.http.get("/console/static/console.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    assert "max-age=86400" in script.headers["cache-control"]
    again = console.http.get(
        "/console/static/console.js", headers={"If-None-Match": script.headers["etag"]}
    )
    assert again.status_code == 304
    assert console.http.get("/console/static/../app.py").status_code == 404
    assert console.http.get("/console/static/secret.key").status_code == 404


def test_markup_in_names_titles_and_questions_is_escaped(
    console: Console, admin_secret: str, container: Container
) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    kb = container.catalog.create_kb(f"Shop {hostile}", default_model="extractive")
    container.ingestion.ingest(
        kb.id,
        RawSource(
            data=f"# Title {hostile}\n\nThe shop opens at nine {hostile}.".encode(),
            source="hostile.md",
            title=f"Doc {hostile}",
            declared_type="text/markdown",
        ),
    )
    console.sign_in(admin_secret)
    pages = [
        console.page("/console/kbs"),
        console.page(f"/console/kbs/{kb.id}/documents"),
        console.page(f"/console/kbs/{kb.id}/settings"),
    ]
    asked = console.post(f"/console/kbs/{kb.id}/try", {"question": f"When? {hostile}"})
    assert asked.status_code == 303
    pages.append(console.page(asked.headers["location"]))
    for page in pages:
        assert page.status_code == 200, page.text
        assert "<img" not in page.text, page.url
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text, page.url


def test_a_restricted_key_sees_and_reaches_only_its_knowledge_bases(
    console: Console, container: Container
) -> None:
    mine = container.catalog.create_kb("mine")
    theirs = container.catalog.create_kb("theirs")
    restricted = container.keys.create(
        ["kb:read", "kb:write", "chat"], [mine.id], name="agency"
    ).secret
    assert console.sign_in(restricted).status_code == 303
    listing = console.page("/console/kbs")
    assert "mine" in listing.text and "theirs" not in listing.text
    assert "New knowledge base" not in listing.text  # creating one needs an unrestricted key
    assert console.page(f"/console/kbs/{mine.id}/documents").status_code == 200
    for path in ("documents", "settings", "crawls"):
        refused = console.page(f"/console/kbs/{theirs.id}/{path}")
        assert refused.status_code == 403, path
    by_name = console.page("/console/kbs/theirs/documents")
    assert by_name.status_code == 403
    deleted = console.post(f"/console/kbs/{theirs.id}/delete", {"confirm": "theirs"})
    assert deleted.status_code == 403 and container.catalog.get_kb(theirs.id)
    created = console.post("/console/kbs", {"name": "new"})
    assert created.status_code == 403
    assert console.page("/console/keys").status_code == 403  # admin pages: unrestricted admin
    upload = console.http.post(
        f"/console/api/kbs/{theirs.id}/documents",
        files={"file": ("a.md", b"# A\n\ntext")},
        headers={"X-CSRF-Token": console.csrf},
    )
    assert upload.status_code == 403 and upload.json()["code"] == "forbidden"


def test_a_read_only_key_cannot_write(console: Console, container: Container) -> None:
    kb = container.catalog.create_kb("docs")
    reader = container.keys.create(["kb:read"]).secret
    console.sign_in(reader)
    page = console.page(f"/console/kbs/{kb.id}/documents")
    assert page.status_code == 200 and "data-upload" not in page.text
    refused = console.post(f"/console/kbs/{kb.id}/settings", {"name": "renamed"})
    assert refused.status_code == 403 and "kb:write" in refused.text
    assert container.catalog.get_kb(kb.id).name == "docs"


def test_signing_in_again_replaces_the_session_and_pages_do_not_use_the_api_allowance(
    container: Container, admin_secret: str
) -> None:
    """A crawl's page polls every second: a signed-in console must not run into the API's
    per-address limit, while requests without a session still count against it."""
    container.settings.security.rate_limit = "5/minute"
    with TestClient(create_app(container), base_url=BASE) as client:
        console = Console(client)
        console.sign_in(admin_secret)
        first = client.cookies.get(SESSION_COOKIE)
        console.sign_in(admin_secret)
        assert client.cookies.get(SESSION_COOKIE) != first
        assert container.sessions.find(first) is None and container.sessions.count() == 1
        assert [console.page("/console/kbs").status_code for _ in range(8)] == [200] * 8
    with TestClient(create_app(container), base_url=BASE) as stranger:
        codes = [stranger.get("/console/kbs", follow_redirects=False).status_code for _ in range(7)]
    assert codes[:5] == [303] * 5 and codes[-1] == 429


def test_the_console_can_be_turned_off(container: Container) -> None:
    container.settings.console.enabled = False
    with TestClient(create_app(container), base_url=BASE) as client:
        for path in ("/console", "/console/sign-in", "/console/static/console.js"):
            assert client.get(path, follow_redirects=False).status_code == 404, path
