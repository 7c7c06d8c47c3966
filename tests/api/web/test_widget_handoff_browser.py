"""The widget's "talk to a person" in a real browser (Debian's chromium, selenium): the button
shows because the knowledge base hands conversations over; pressing it hands the conversation
to a person, whose reply, posted with an agent key, appears in the widget marked with their
name, as text; the conversation is handed back and the bot answers again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from api.container import build_container
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.api.web.test_widget_browser import (  # the same browser, host site and helpers
    DOC,
    _bot_texts,
    _csp_violations,
    _open,
    _root,
    _serve_pages,
    _wait,
    driver,
)
from tests.conftest import free_port, make_settings

__all__ = ["driver"]  # a fixture, used by name
pytestmark = pytest.mark.usefixtures("driver")


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, embedder: SentenceTransformerEmbedder
) -> Iterator[dict[str, Any]]:
    """The engine with a knowledge base that hands over, and a host page on another port."""
    container = build_container(
        make_settings(tmp_path_factory.mktemp("handoff") / "data"), embedder=embedder
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
    agent = {"Authorization": f"Bearer {container.keys.create(['agent', 'chat']).secret}"}
    with httpx.Client(base_url=engine, headers=admin, timeout=60) as http_client:
        kb_id = http_client.post(
            "/v1/kbs", json={"name": "shop", "default_model": "extractive"}
        ).json()["id"]
        http_client.post(f"/v1/kbs/{kb_id}/documents", json={"title": "Hours", "text": DOC})
        http_client.put(f"/v1/kbs/{kb_id}/handoff", json={"enabled": True})
        key = http_client.post(
            "/v1/keys",
            json={"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": [allowed]},
        ).json()["secret"]
    pages["/shop.html"] = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Host</title>'
        "</head><body><h1>Host page</h1>"
        f'<script src="{engine}/widget.js" data-key="{key}" async></script></body></html>'
    )
    yield {"engine": engine, "allowed": allowed, "admin": admin, "agent": agent}
    host.shutdown()
    server.should_exit = True
    thread.join(timeout=10)
    container.close()


def _agent_texts(driver: Any) -> list[tuple[str, str]]:
    found = _root(
        driver,
        "return [...r.querySelectorAll('.msg.agent')].map(m => "
        "[m.querySelector('.who').textContent, m.querySelector('.bubble').textContent])",
    )
    return [tuple(pair) for pair in found or []]


def test_talk_to_a_person_then_the_agents_reply_appears_and_the_bot_is_back(
    site: dict[str, Any], driver: Any, tmp_path: Path
) -> None:
    _open(driver, site["allowed"] + "/shop.html")
    _root(driver, "r.querySelector('.launcher').click(); return 1")
    button = _wait(
        lambda: _root(
            driver,
            "const b = [...r.querySelectorAll('footer button')].find(b => !b.hidden && "
            "b.textContent === 'Talk to a person'); return b || null",
        ),
        what="the talk-to-a-person button",
    )
    button.click()
    _wait(
        lambda: any("A person will reply" in t or "passing you" in t for t in _bot_texts(driver)),
        what="the handoff notice",
    )
    stored = driver.execute_script(
        "return JSON.parse(Object.entries(localStorage).find(([k]) => k.startsWith('kbchat:'))[1])"
    )
    conversation = stored["conversationId"]
    assert button.get_attribute("hidden") is not None  # a person has it: no second request
    state = httpx.get(f"{site['engine']}/v1/conversations/{conversation}", headers=site["admin"])
    assert state.json()["state"] == "waiting_for_agent"

    reply = httpx.post(
        f"{site['engine']}/v1/conversations/{conversation}/messages",
        json={
            "role": "agent",
            "text": 'Hello, <img src=x onerror="window.__xss=1"> how can I help?',
            "agent_name": "Marie <b>Support</b>",
        },
        headers=site["agent"],
    )
    assert reply.status_code == 201, reply.text
    shown = _wait(lambda: _agent_texts(driver), what="the agent's reply in the widget")
    assert shown == [
        ("Marie <b>Support</b>", 'Hello, <img src=x onerror="window.__xss=1"> how can I help?')
    ]
    assert driver.execute_script("return window.__xss === undefined")
    assert _root(driver, "return r.querySelectorAll('.msg.agent img, .msg.agent b').length") == 0
    driver.save_screenshot(str(tmp_path / "widget-handoff.png"))

    released = httpx.post(
        f"{site['engine']}/v1/conversations/{conversation}/release", headers=site["agent"]
    )
    assert released.status_code == 200
    from selenium.webdriver.common.keys import Keys

    _wait(
        lambda: (
            driver.execute_script(
                "return JSON.parse(Object.entries(localStorage).find(([k]) => "
                "k.startsWith('kbchat:'))[1]).handoff"
            )
            == "bot"
        ),
        what="the widget seeing the hand-back",
    )
    assert button.get_attribute("hidden") is None  # the bot again: the button is back
    textarea = _root(driver, "return r.querySelector('textarea')")
    textarea.send_keys("When does the shop open?", Keys.ENTER)
    _wait(lambda: any("nine" in t for t in _bot_texts(driver)), what="the bot's answer")
    assert _csp_violations(driver) == []
