"""The console in a real browser (Debian's chromium driven by selenium) against a real uvicorn on
127.0.0.1: sign in, create a knowledge base, upload a Markdown file and a PDF and see both ready,
crawl a loopback site while the counts rise to done, ask in "try it" and read a cited answer,
create a publishable key and copy its snippet, a restricted key sees only its knowledge base,
markup in names and titles stays text, a cross-site form post is refused, sign-out ends the
session. No page breaks its Content-Security-Policy.

With ``CONSOLE_SCREENSHOTS=docs/img`` the pages' screenshots are written there
(``docs/img/console-*.png``, shown in docs/console.md); otherwise to the test's temp dir."""

from __future__ import annotations

import http.server
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import free_port, make_settings
from tests.support.crawl_site import FixtureSite, serve
from tests.support.pdf_factory import make_pdf

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)

HOSTILE_KB = 'Help desk <img src=x onerror="window.__xss=1">'
HOSTILE_TITLE = "Opening hours <img src=y onerror=window.__xss=2>"
HOURS = (
    f"# {HOSTILE_TITLE}\n\nThe shop opens at nine in the morning and closes at six in the "
    "evening on weekdays. On Saturdays the shop closes at noon.\n"
)


def _forging_site(target: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Another site on its own loopback port whose page posts a form to the console."""
    page = (
        "<!doctype html><html><body><h1>Win a prize</h1>"
        f'<form id="f" method="post" action="{target}/console/kbs">'
        '<input name="name" value="forged"><input name="csrf_token" value="guess"></form>'
        "<script>document.getElementById('f').submit()</script></body></html>"
    ).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture(scope="module")
def engine(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[dict[str, Any]]:
    """The engine on a real uvicorn, a loopback site to crawl, and an admin key."""
    settings = make_settings(tmp_path_factory.mktemp("console") / "data")
    settings.crawl.allowed_hosts = ["127.0.0.1"]
    settings.crawl.delay_s = 0.2
    container = build_container(settings, embedder=embedder)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    site = FixtureSite()
    with serve(site):
        links = "".join(f"<a href='/faq/{i}'>question {i}</a> " for i in range(6))
        site.html("/", f"<h1>Help centre</h1><p>Answers to common questions.</p>{links}")
        for i in range(6):
            site.html(f"/faq/{i}", f"<h1>Question {i}</h1><p>Delivery takes {i + 2} days.</p>")
        yield {
            "url": f"http://127.0.0.1:{port}",
            "container": container,
            "admin": container.keys.create(["admin"], name="operator").secret,
            "site": site.base,
        }
    server.should_exit = True
    thread.join(timeout=10)
    container.close()


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless chromium with a fresh profile."""
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield browser
    browser.quit()


@pytest.fixture
def shots(tmp_path: Path) -> Callable[[Any, str], None]:
    """Save a screenshot of the page as console-NAME.png."""
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(driver: Any, name: str) -> None:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, min(max(height + 120, 700), 1600))
        driver.save_screenshot(str(folder / f"console-{name}.png"))
        driver.set_window_size(1280, 900)

    return take


def _wait(check: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _css(driver: Any, selector: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def _all(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def _sign_in(driver: Any, url: str, secret: str) -> None:
    driver.get(url + "/console")
    _wait(lambda: "/console/sign-in" in driver.current_url, what="the sign-in page")
    from selenium.webdriver.common.keys import Keys

    # The keyboard only: the key field has the focus, Enter sends the form.
    assert driver.switch_to.active_element.get_attribute("id") == "api_key"
    driver.switch_to.active_element.send_keys(secret, Keys.ENTER)
    _wait(lambda: driver.current_url.endswith("/console/kbs"), what="the knowledge bases")


def _csp_violations(driver: Any) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_an_operator_runs_a_knowledge_base_from_the_browser(
    engine: dict[str, Any], driver: Any, tmp_path: Path, shots: Callable[[Any, str], None]
) -> None:
    url, container = engine["url"], engine["container"]
    driver.get(url + "/console/sign-in")
    shots(driver, "sign-in")
    _sign_in(driver, url, engine["admin"])
    assert engine["admin"] not in driver.page_source
    cookies = {c["name"]: c for c in driver.get_cookies()}
    assert cookies["kb_console"]["httpOnly"] and cookies["kb_console"]["sameSite"] == "Strict"
    assert driver.execute_script("return document.cookie") == ""  # HttpOnly: no script sees it

    # Create a knowledge base whose name holds markup: it shows as text.
    _css(driver, "#kb-name").send_keys(HOSTILE_KB)
    _css(driver, "#kb-model").send_keys("extractive")
    _css(driver, "#kb-name").submit()
    _wait(lambda: driver.current_url.endswith("/documents"), what="the documents page")
    kb_id = driver.current_url.split("/")[-2]
    assert _css(driver, "h1").text == HOSTILE_KB

    # Upload a Markdown file and a PDF at once: each shows its outcome.
    (tmp_path / "hours.md").write_text(HOURS)
    (tmp_path / "returns.pdf").write_bytes(
        make_pdf(["Returns are accepted within 30 days with the receipt."], title="Returns")
    )
    _css(driver, "#files").send_keys(f"{tmp_path / 'hours.md'}\n{tmp_path / 'returns.pdf'}")
    _wait(
        lambda: (
            [li.get_attribute("data-outcome") for li in _all(driver, ".upload")]
            == ["created", "created"]
        ),
        what="both uploads",
    )
    states = [li.text for li in _all(driver, ".upload .state")]
    assert states == ["created", "created"]
    # A file dropped on the drop zone goes the same way (a drop event with its DataTransfer).
    driver.execute_script(
        "const files = new DataTransfer(); files.items.add(new File(['# Dropped notes\\n\\n"
        "Parking is free on Sundays.'], 'dropped.md', {type: 'text/markdown'}));"
        "document.querySelector('[data-upload]').dispatchEvent(new DragEvent('drop', "
        "{dataTransfer: files, bubbles: true, cancelable: true}))"
    )
    _wait(
        lambda: (
            [li.get_attribute("data-outcome") for li in _all(driver, ".upload")]
            == ["created", "created", "created"]
        ),
        what="the dropped file",
    )
    shots(driver, "upload")
    driver.refresh()
    rows = _wait(lambda: _all(driver, "tbody tr"), what="the document list")
    assert [r.find_element("css selector", ".status").text for r in rows] == ["ready"] * 3
    titles = [t.text for t in _all(driver, ".doc-title")]
    assert HOSTILE_TITLE in titles  # markup in a title, shown as text
    shots(driver, "documents")
    _css(driver, ".doc-title").click()
    _wait(lambda: _all(driver, ".passage"), what="the passages")
    shots(driver, "document")

    # Crawl the loopback site: the counts rise to done without a reload.
    driver.get(f"{url}/console/kbs/{kb_id}/crawls")
    _css(driver, "#start_urls").send_keys(engine["site"] + "/")
    _css(driver, "#start_urls").submit()
    row = _wait(lambda: _all(driver, "tr.crawl"), what="the crawl row")[0]
    driver.execute_script("window.__marker = 1")  # gone if the page reloads
    _wait(lambda: row.get_attribute("data-finished") == "done", what="the crawl to finish")
    assert driver.execute_script("return window.__marker") == 1
    assert row.find_element("css selector", "[data-show-when-done] button").is_displayed()
    assert int(row.find_element("css selector", '[data-field="ingested"]').text) >= 2
    shots(driver, "crawls")

    # Ask in "try it": a cited answer, each citation with its passage and score.
    driver.get(f"{url}/console/kbs/{kb_id}/try")
    _css(driver, "#question").send_keys("When does the shop open?")
    _css(driver, "#question").submit()
    answer = _wait(lambda: _all(driver, ".msg-bot .text"), what="the answer")[0]
    assert "nine" in answer.text
    driver.execute_script(
        "document.querySelectorAll('.citations details').forEach(d => d.open = true)"
    )
    cited = _css(driver, ".citations li")
    assert "score" in cited.text and "nine in the morning" in cited.text
    shots(driver, "try")

    # The test conversation is on the conversations page, with its transcript.
    driver.get(f"{url}/console/conversations?kb={kb_id}")
    assert _css(driver, ".first-question").text == "When does the shop open?"
    shots(driver, "conversations")
    _css(driver, "tbody tr a").click()
    _wait(lambda: _all(driver, ".msg-bot .citations li"), what="the transcript's citations")
    shots(driver, "transcript")

    # The widget page's preview follows the form as it is edited.
    driver.get(f"{url}/console/kbs/{kb_id}/widget")
    assert _css(driver, '[data-pv="title"]').text == HOSTILE_KB
    _css(driver, "#w-title").send_keys("Ask <b>us</b>")
    _css(driver, "#w-color").send_keys("#047857")
    _css(driver, "#w-welcome").send_keys("Hello! How can we help?")
    _css(driver, "#w-suggestions").send_keys("When do you open?\nWhere are you?")
    assert _css(driver, '[data-pv="title"]').text == "Ask <b>us</b>"
    chips = [c.text for c in _all(driver, ".pv-chip")]
    assert chips == ["When do you open?", "Where are you?"]
    colour = _css(driver, '[data-pv="launcher"]').value_of_css_property("background-color")
    assert colour == "rgba(4, 120, 87, 1)"
    shots(driver, "widget")
    _css(driver, "#w-title").submit()
    _wait(lambda: "saved=1" in driver.current_url, what="the saved widget settings")
    assert container.widgets.get(kb_id)[0]["color"] == "#047857"
    driver.get(f"{url}/console/kbs/{kb_id}/settings")
    delete = _css(driver, ".danger button[type=submit]")
    assert not delete.is_enabled()  # until the name is typed
    _css(driver, "#confirm").send_keys(HOSTILE_KB[:-1])
    assert not delete.is_enabled()
    _css(driver, "#confirm").send_keys(HOSTILE_KB[-1])
    assert delete.is_enabled()
    _css(driver, "#confirm").clear()
    shots(driver, "settings")

    # A publishable key: its secret once, and the snippet to copy.
    driver.get(f"{url}/console/keys?kb={kb_id}")
    _css(driver, 'input[name="kind"][value="publishable"]').click()
    assert not _css(driver, "#key-origins").get_attribute("hidden")
    _css(driver, "#key-origins").send_keys("https://shop.example.com")
    _css(driver, "#key-name").send_keys("web site")
    _css(driver, "#key-name").submit()
    snippet = _wait(lambda: _all(driver, "#snippet"), what="the snippet")[0].text
    assert snippet.startswith(f'<script src="{url}/widget.js" data-key="kb_pub_')
    _css(driver, 'button[data-copy="#snippet"]').click()
    _wait(lambda: _css(driver, 'button[data-copy="#snippet"]').get_attribute("data-copied"))
    shots(driver, "key-created")
    driver.get(f"{url}/console/keys")
    secret = snippet.split('data-key="')[1].split('"')[0]
    assert "kb_pub_" in driver.page_source and secret not in driver.page_source  # shown once
    shots(driver, "keys")
    for page in ("webhooks", "providers", "audit"):
        driver.get(f"{url}/console/{page}")
        assert _css(driver, "h1").text, page
        shots(driver, page)

    # Usable at 768 px: nothing wider than the window.
    driver.set_window_size(768, 900)
    for page in (f"kbs/{kb_id}/documents", f"kbs/{kb_id}/crawls", "keys", "conversations"):
        driver.get(f"{url}/console/{page}")
        assert driver.execute_script(
            "return document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        ), page
    driver.set_window_size(1280, 900)
    assert driver.execute_script("return window.__xss === undefined")
    assert _csp_violations(driver) == []


def test_a_restricted_key_sees_only_its_knowledge_base(
    engine: dict[str, Any], driver: Any, shots: Callable[[Any, str], None]
) -> None:
    container = engine["container"]
    mine = container.catalog.create_kb("Agency docs")
    container.catalog.create_kb("Someone else's")
    secret = container.keys.create(["kb:read", "kb:write", "chat"], [mine.id], "agency").secret
    driver.delete_all_cookies()
    _sign_in(driver, engine["url"], secret)
    names = [a.text for a in _all(driver, ".kb-name")]
    assert names == ["Agency docs"]
    assert not _all(driver, "#kb-name")  # no create form for a restricted key
    assert "API keys" not in _css(driver, "header").text
    shots(driver, "kbs-restricted")
    driver.get(engine["url"] + "/console/keys")
    assert "Forbidden" in _css(driver, "h1").text


def test_a_cross_site_form_post_is_refused_and_sign_out_ends_the_session(
    engine: dict[str, Any], driver: Any, shots: Callable[[Any, str], None]
) -> None:
    url, container = engine["url"], engine["container"]
    driver.delete_all_cookies()
    _sign_in(driver, url, engine["admin"])
    shots(driver, "kbs")
    before = container.catalog.list_kbs(100, 0)[1]
    forger, page = _forging_site(url)
    try:
        driver.get(page)
        _wait(lambda: driver.current_url.startswith(url), what="the forged post")
        heading = _wait(lambda: _all(driver, "h1"), what="the answer")[0].text
        assert heading == "Request refused"
        assert "another web site" in _css(driver, ".alert").text
    finally:
        forger.shutdown()
    assert container.catalog.list_kbs(100, 0)[1] == before
    driver.get(url + "/console/kbs")
    sessions = container.sessions.count()
    _css(driver, "form[action='/console/sign-out'] button").click()
    _wait(lambda: driver.current_url.endswith("/console/sign-in"), what="the sign-in page")
    assert container.sessions.count() == sessions - 1
    driver.get(url + "/console/kbs")
    _wait(lambda: "/console/sign-in" in driver.current_url, what="the redirect to sign in")
