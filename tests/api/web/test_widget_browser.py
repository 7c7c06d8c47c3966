"""The widget in a real browser (Debian's chromium driven by selenium): a host page on another
loopback origin with a strict Content-Security-Policy (Trusted Types required, no inline
script or style) loads /widget.js from a real uvicorn; the visitor opens the launcher, asks,
reads a streamed answer with its citation, reloads, closes with Esc; markup in documents and
names stays text; a page on an origin the key does not list gets the clear message."""

from __future__ import annotations

import http.server
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import free_port, make_settings

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)

DOC = (
    "# Opening hours\n\nThe shop opens at nine in the morning. It closes at six in the "
    "evening on weekdays. On Saturdays the shop closes at noon."
)
HOSTILE = (
    '# Returns\n\nReturns are accepted within 30 days <img src=x onerror="window.__xss=1"> '
    "with the receipt. <script>window.__xss=2</script> Refunds take five days."
)
HOSTILE_KB = 'Shop <img src=x onerror="window.__xss=3">'
ROOT = "return document.querySelector('kb-chat').shadowRoot"


def _serve_pages(pages: dict[str, str], csp: str) -> tuple[http.server.ThreadingHTTPServer, int]:
    """A host site on its own loopback port: ``pages`` by path, each with ``csp``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            page = pages.get(self.path.split("?")[0])
            body = (page or "not found").encode()
            self.send_response(200 if page else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[dict[str, Any]]:
    """The engine on one port with two knowledge bases and their keys; the host site on another."""
    container = build_container(
        make_settings(
            tmp_path_factory.mktemp("widget") / "data", widget__max_messages_per_conversation=2
        ),
        embedder=embedder,
    )
    port = free_port()
    engine = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    pages: dict[str, str] = {}
    csp = (
        f"default-src 'none'; script-src {engine}; connect-src {engine}; img-src {engine}; "
        "require-trusted-types-for 'script'; base-uri 'none'"
    )
    host, host_port = _serve_pages(pages, csp)
    allowed = f"http://127.0.0.1:{host_port}"
    admin = {"Authorization": f"Bearer {container.keys.create(['admin']).secret}"}
    keys, kb_ids = {}, {}
    with httpx.Client(base_url=engine, headers=admin, timeout=60) as http_client:
        for name, title, text in (
            ("shop", "Hours", DOC),
            (HOSTILE_KB, HOSTILE_KB, HOSTILE),
            ("boutique", "Horaires", DOC),
        ):
            kb = http_client.post("/v1/kbs", json={"name": name, "default_model": "extractive"})
            kb_id = kb_ids[name] = kb.json()["id"]
            added = http_client.post(
                f"/v1/kbs/{kb_id}/documents", json={"title": title, "text": text}
            )
            assert added.status_code in (200, 201, 202), added.text
            key = http_client.post(
                "/v1/keys",
                json={"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": [allowed]},
            )
            keys[name] = key.json()["secret"]
        http_client.put(
            f"/v1/kbs/{kb_ids['shop']}/widget",
            json={"welcome": "Hi **there**", "suggestions": ["When do you close?"]},
        )
        http_client.put(
            f"/v1/kbs/{kb_ids['boutique']}/widget",
            json={
                "suggestions": ["When does the shop close on Saturdays?"],
                "lead": "after_answer",
                "lead_fields": ["Phone"],
            },
        )
    for path, key in (("/shop.html", keys["shop"]), ("/hostile.html", keys[HOSTILE_KB])):
        pages[path] = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title>'
            "</head><body><h1>Host page</h1>"
            f'<script src="{engine}/widget.js" data-key="{key}" async></script></body></html>'
        )
    pages["/boutique.html"] = (
        '<!doctype html><html lang="fr-FR"><head><meta charset="utf-8"><title>Boutique</title>'
        f'</head><body><h1>Aide</h1><kb-chat data-key="{keys["boutique"]}"></kb-chat>'
        f'<script src="{engine}/widget.js" async></script></body></html>'
    )
    yield {
        "kb_ids": kb_ids,
        "admin": admin,
        "engine": engine,
        "allowed": allowed,
        "refused": f"http://localhost:{host_port}",
        "container": container,
    }
    host.shutdown()
    server.should_exit = True
    thread.join(timeout=10)
    container.close()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    """One headless chromium for the module."""
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1200,900",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield browser
    browser.quit()


def _wait(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _root(driver: Any, script: str) -> Any:
    return driver.execute_script(
        f"const r = document.querySelector('kb-chat')?.shadowRoot; if (!r) return null; {script}"
    )


def _open(driver: Any, url: str) -> None:
    driver.get(url)
    _wait(lambda: _root(driver, "return r.querySelector('.launcher')"), what="the launcher")


def _bot_texts(driver: Any) -> list[str]:
    texts: list[str] = (
        _root(
            driver,
            "return [...r.querySelectorAll('.msg.bot:not([aria-busy]) .bubble')]"
            ".map(b => b.textContent)",
        )
        or []
    )
    return texts


def _csp_violations(driver: Any) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if "Content Security Policy" in entry["message"] or "TrustedHTML" in entry["message"]
    ]


def test_a_visitor_asks_reads_a_streamed_cited_answer_reloads_and_closes(
    site: dict[str, Any], driver: Any, tmp_path: Path
) -> None:
    driver.set_window_size(1200, 900)
    _open(driver, site["allowed"] + "/shop.html")
    launcher = _root(driver, "return r.querySelector('.launcher')")
    assert launcher.get_attribute("aria-haspopup") == "dialog"
    assert launcher.get_attribute("aria-expanded") == "false"
    from selenium.webdriver.common.keys import Keys

    launcher.send_keys(Keys.ENTER)  # the keyboard opens it
    panel = _root(driver, "return r.querySelector('[role=dialog]')")
    assert panel.is_displayed() and panel.get_attribute("aria-label")
    assert launcher.get_attribute("aria-expanded") == "true"
    assert _root(driver, "return r.activeElement && r.activeElement.tagName") == "TEXTAREA"
    assert (
        _root(driver, "return r.querySelector('[role=log]').getAttribute('aria-live')") == "polite"
    )
    _wait(lambda: "Hi there" in (_bot_texts(driver) or [""])[0], what="the welcome message")
    # Count how often the answer's bubble is redrawn: more than once means it streamed.
    _root(
        driver,
        "window.__draws = 0; new MutationObserver(ms => { for (const m of ms) for (const n of "
        "m.addedNodes) if (n.classList && n.classList.contains('bot')) window.__draws++; })"
        ".observe(r.querySelector('[role=log]'), {childList: true}); return 1",
    )
    textarea = _root(driver, "return r.querySelector('textarea')")
    textarea.send_keys("When does the shop open?", Keys.SHIFT, Keys.ENTER)
    assert "\n" in textarea.get_attribute("value")  # Shift+Enter: a new line, not sent
    textarea.send_keys(Keys.BACKSPACE, Keys.ENTER)
    answer = _wait(
        lambda: next((t for t in _bot_texts(driver)[1:] if "nine" in t), None), what="the answer"
    )
    assert "nine" in answer
    assert driver.execute_script("return window.__draws") >= 2
    sources = _root(driver, "return [...r.querySelectorAll('.sources li')].map(l => l.textContent)")
    assert sources and "Hours" in sources[0]
    driver.save_screenshot(str(tmp_path / "widget.png"))
    stored = driver.execute_script(
        "return JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('kbchat:'))[1])"
    )
    conversation = httpx.get(
        f"{site['engine']}/v1/conversations/{stored['conversationId']}", headers=site["admin"]
    ).json()
    assert stored["visitorToken"] and conversation["user_id"] == stored["userId"]
    _wait(
        lambda: httpx.get(
            f"{site['engine']}/v1/conversations/{stored['conversationId']}", headers=site["admin"]
        ).json()["read_at"],
        what="the read event",
    )
    # Thumbs down on the answer: stored as the bot message's feedback, shown pressed.
    _root(
        driver, "r.querySelectorAll('.msg.bot')[1].querySelectorAll('.rate')[1].click(); return 1"
    )

    def rated() -> list[Any]:
        history = httpx.get(
            f"{site['engine']}/v1/conversations/{stored['conversationId']}/history",
            headers=site["admin"],
        ).json()["items"]
        return [m["feedback"]["rating"] for m in history if m.get("feedback")]

    assert _wait(rated, what="the feedback") == ["down"]

    driver.refresh()  # the conversation survives a reload
    _wait(lambda: _root(driver, "return r.querySelector('.launcher')"), what="the launcher")
    _root(driver, "r.querySelector('.launcher').click(); return 1")
    _wait(lambda: any("nine" in t for t in _bot_texts(driver)), what="the history")
    users = _root(driver, "return [...r.querySelectorAll('.msg.user')].map(m => m.textContent)")
    assert any("When does the shop open?" in u for u in users)
    pressed = "return [...r.querySelectorAll('.rate[aria-pressed=true]')].map(b => b.title)"
    assert _root(driver, pressed) == ["Unhelpful answer"]  # the rating came back with the history

    # A question the knowledge base cannot answer: the engine's quick replies are buttons
    # (in a new conversation: this server allows two messages per conversation).
    _root(driver, "r.querySelector('header button').click(); return 1")
    _root(driver, "return r.querySelector('textarea')").send_keys(
        "Do you sell bicycles?", Keys.ENTER
    )
    chip = "return [...r.querySelectorAll('.msg.bot .chips .chip')].map(c => c.textContent)"
    assert _wait(lambda: _root(driver, chip), what="the quick replies") == ["When do you close?"]
    _wait(
        lambda: _root(driver, "return !r.querySelector('.send').disabled"), what="the reply's end"
    )
    _root(driver, "r.querySelector('.msg.bot .chips .chip').click(); return 1")
    # Sent as the visitor's next message, and answered (whatever the answer).
    _wait(lambda: len(_bot_texts(driver)) == 3, what="the quick reply's answer")
    users = "return [...r.querySelectorAll('.msg.user')].map(m => m.textContent)"
    assert _root(driver, users)[-1].endswith("When do you close?")

    textarea = _root(driver, "return r.querySelector('textarea')")
    textarea.send_keys(Keys.ESCAPE)
    assert not _root(driver, "return !r.querySelector('[role=dialog]').hidden")
    assert _root(driver, "return r.activeElement && r.activeElement.className") == "launcher"

    driver.set_window_size(375, 740)  # a phone: the panel takes the whole screen
    _root(driver, "r.querySelector('.launcher').click(); return 1")
    width = _root(driver, "return r.querySelector('[role=dialog]').getBoundingClientRect().width")
    assert width == driver.execute_script("return window.innerWidth")
    driver.set_window_size(1200, 900)
    assert _csp_violations(driver) == []


def test_markup_in_documents_names_and_questions_stays_text(
    site: dict[str, Any], driver: Any
) -> None:
    _open(driver, site["allowed"] + "/hostile.html")
    _root(driver, "r.querySelector('.launcher').click(); return 1")
    _wait(lambda: _root(driver, "return r.querySelector('h2').textContent") == HOSTILE_KB)
    textarea = _root(driver, "return r.querySelector('textarea')")
    from selenium.webdriver.common.keys import Keys

    textarea.send_keys(
        "How do returns and refunds work? <img src=y onerror=window.__xss=4>", Keys.ENTER
    )
    answer = _wait(
        lambda: next((t for t in _bot_texts(driver) if "days" in t), None), what="the answer"
    )
    assert "days" in answer
    _root(driver, "r.querySelectorAll('.sources details').forEach(d => d.open = true); return 1")
    passages = _root(
        driver, "return [...r.querySelectorAll('.sources blockquote')].map(b => b.textContent)"
    )
    assert any("<img" in p for p in passages), passages  # shown, as text
    created = _root(
        driver,
        "return [...r.querySelectorAll('img, script, svg image, iframe')].filter(e => !e.hidden)"
        ".length",
    )
    assert created == 0
    assert _root(driver, "return r.querySelector('h2').children.length") == 0
    assert driver.execute_script("return window.__xss === undefined")
    assert _csp_violations(driver) == []


def test_a_page_on_an_unlisted_origin_says_the_chat_is_not_enabled_here(
    site: dict[str, Any], driver: Any
) -> None:
    _open(driver, site["refused"] + "/shop.html")
    _root(driver, "r.querySelector('.launcher').click(); return 1")
    notice = _wait(
        lambda: _root(
            driver, "const n = r.querySelector('[role=alert]'); return !n.hidden && n.textContent"
        ),
        what="the notice",
    )
    assert notice == "This chat is not enabled on this website."
    assert _root(driver, "return r.querySelector('textarea').disabled")


def test_inline_chat_in_french_suggestion_lead_form_and_quota(
    site: dict[str, Any], driver: Any
) -> None:
    """An inline <kb-chat> on a French page: a suggested question, the lead form after the
    answer (recorded, the lead event fired), then the conversation quota, said in French."""
    driver.get(site["allowed"] + "/boutique.html")
    _wait(lambda: _root(driver, "return r.querySelector('.chips .chip')"), what="the chips")
    assert _root(driver, "return r.querySelector('.launcher').hidden")  # inline: no launcher
    assert _root(driver, "return r.querySelector('[role=region]').getAttribute('aria-label')")
    driver.execute_script("window.__leads = []; KBChat.on('lead', (l) => window.__leads.push(l))")
    _root(driver, "r.querySelector('.chips .chip').click(); return 1")
    _wait(lambda: any("noon" in t for t in _bot_texts(driver)), what="the answer")
    _wait(lambda: _root(driver, "return !r.querySelector('form.lead').hidden"), what="lead form")
    form = _root(driver, "return r.querySelector('form.lead')")
    assert "Nom" in form.text
    for name, value in (("name", "Ada"), ("email", "ada@example.com"), ("field:Phone", "0102")):
        _root(driver, f"return r.querySelector('form.lead input[name=\"{name}\"]')").send_keys(
            value
        )
    _root(driver, "r.querySelector('form.lead button').click(); return 1")
    _wait(lambda: driver.execute_script("return window.__leads.length"), what="the lead event")
    leads = httpx.get(
        f"{site['engine']}/v1/kbs/{site['kb_ids']['boutique']}/leads", headers=site["admin"]
    ).json()["items"]
    assert [(lead["name"], lead["fields"]) for lead in leads] == [("Ada", {"Phone": "0102"})]
    assert any(t.startswith("Merci") for t in _bot_texts(driver))

    from selenium.webdriver.common.keys import Keys

    textarea = _root(driver, "return r.querySelector('textarea')")
    textarea.send_keys("When does the shop open?", Keys.ENTER)  # the 2nd message: allowed
    _wait(lambda: any("nine" in t for t in _bot_texts(driver)), what="the second answer")
    _wait(lambda: not _root(driver, "return r.querySelector('.send').disabled"), what="idle")
    textarea.send_keys("And on Sundays?", Keys.ENTER)  # the 3rd: over the quota of 2
    notice = _wait(
        lambda: _root(
            driver, "const n = r.querySelector('[role=alert]'); return !n.hidden && n.textContent"
        ),
        what="the quota notice",
    )
    assert (
        notice == "Cette conversation a atteint sa limite de messages. Commencez-en une nouvelle."
    )
    assert textarea.get_attribute("value") == "And on Sundays?"  # kept, to send again
    assert _csp_violations(driver) == []
