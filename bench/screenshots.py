"""Screenshots of the chat widget for the docs: docs/img/widget-open.png (the panel open, with the
welcome message and suggested questions) and docs/img/widget.png (a streamed answer with
its cited source).

The engine runs in this process (uvicorn on 127.0.0.1, a temporary data directory, the bundled
MiniLM, the extractive answerer) with one knowledge base holding data/samples/handbook.md; a
host page on a second loopback port carries the one script tag; Debian's headless chromium,
driven by selenium, opens the launcher and asks a question.

Usage: .venv/bin/python bench/screenshots.py [--out docs/img]
"""

from __future__ import annotations

import argparse
import http.server
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from api.app import create_app  # noqa: E402
from api.container import build_container  # noqa: E402
from kb.settings import Settings  # noqa: E402

QUESTION = "How many days of paid holiday do I get?"
HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ACME Intranet</title>
<style>body{{margin:0;font:16px/1.5 system-ui,sans-serif;color:#1f2933;background:#f5f7fa}}
header{{background:#1f3a5f;color:#fff;padding:18px 40px;font-size:20px;font-weight:600}}
main{{max-width:720px;padding:32px 40px}}h1{{font-size:28px;margin:0 0 12px}}
.card{{background:#fff;border-radius:8px;padding:20px 24px;margin:16px 0;
box-shadow:0 1px 3px rgba(0,0,0,.08)}}</style></head>
<body><header>ACME Intranet</header><main><h1>Welcome back</h1>
<div class="card"><b>People &amp; HR</b><p>Policies, holidays, expenses and remote work.</p></div>
<div class="card"><b>IT help</b><p>Laptops, accounts and the VPN.</p></div>
<div class="card"><b>News</b><p>The new office opens in March.</p></div></main>
<script src="{engine}/widget.js" data-key="{key}" async></script></body></html>"""


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_page(page: dict[str, str]) -> tuple[http.server.ThreadingHTTPServer, int]:
    """The host site on its own loopback port: ``page["html"]`` at every path (set once the
    port, hence the origin its key allows, is known)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page["html"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, port


def wait(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    """Poll ``check`` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def start_engine(data_dir: Path) -> tuple[Any, uvicorn.Server, threading.Thread, str]:
    """The engine on a free loopback port (container, server, its thread, base URL)."""
    settings = Settings(
        storage={"data_dir": data_dir},
        embedding={"model": "bundled:all-MiniLM-L6-v2", "cache_dir": REPO / "data" / "models"},
    )
    settings.security.rate_limit = ""
    container = build_container(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(container), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait(lambda: server.started, "uvicorn")
    return container, server, thread, f"http://127.0.0.1:{port}"


def publish(container: Any, engine: str, origin: str) -> str:
    """A knowledge base with the sample handbook, its widget settings and a publishable key."""
    admin = {"Authorization": f"Bearer {container.keys.create(['admin']).secret}"}
    with httpx.Client(base_url=engine, headers=admin, timeout=120) as client:
        kb_id = client.post("/v1/kbs", json={"name": "ACME HR", "default_model": "extractive"})
        kb_id = kb_id.json()["id"]
        text = (REPO / "data" / "samples" / "handbook.md").read_text()
        added = client.post(
            f"/v1/kbs/{kb_id}/documents", json={"title": "Employee handbook", "text": text}
        )
        assert added.status_code in (200, 201, 202), added.text
        client.put(
            f"/v1/kbs/{kb_id}/widget",
            json={
                "title": "ACME HR assistant",
                "welcome": "Hi! Ask me anything about **working at ACME**.",
                "suggestions": ["When is the office open?", "Can I work from home?"],
                "color": "#1f3a5f",
            },
        ).raise_for_status()
        key = client.post(
            "/v1/keys",
            json={"kind": "publishable", "kb_ids": [kb_id], "allowed_origins": [origin]},
        )
        return str(key.json()["secret"])


def browser() -> Any:
    """Headless chromium through chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not (chromium and driver_path):
        sys.exit("needs Debian's chromium and chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_argument("--window-size=1100,760")
    return webdriver.Chrome(options=options, service=Service(driver_path))


def shoot(driver: Any, page: str, out: Path) -> None:
    """Open the widget, screenshot; ask, wait for the cited answer, screenshot."""
    from selenium.webdriver.common.keys import Keys

    def root(script: str) -> Any:
        return driver.execute_script(
            f"const r = document.querySelector('kb-chat')?.shadowRoot; if (!r) return null; "
            f"{script}"
        )

    driver.get(page)
    wait(lambda: root("return r.querySelector('.launcher')"), "the launcher")
    root("r.querySelector('.launcher').click(); return 1")
    wait(lambda: root("return r.querySelector('.msg.bot .bubble')?.textContent"), "the welcome")
    time.sleep(0.5)  # the panel's opening transition
    driver.save_screenshot(str(out / "widget-open.png"))
    root("return r.querySelector('textarea')").send_keys(QUESTION, Keys.ENTER)
    wait(
        lambda: root(
            "return r.querySelectorAll('.msg.bot:not([aria-busy])').length > 1 && "
            "r.querySelector('.sources li')"
        ),
        "the answer",
    )
    time.sleep(0.5)
    driver.save_screenshot(str(out / "widget.png"))
    for name in ("widget-open.png", "widget.png"):
        # The engine in this process set an owner-only umask for its data: these are docs.
        (out / name).chmod(0o644)


def main() -> None:
    """Start everything, take both screenshots, stop everything."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kb-shots-") as tmp:
        container, server, thread, engine = start_engine(Path(tmp) / "data")
        page: dict[str, str] = {}
        site, port = serve_page(page)
        key = publish(container, engine, f"http://127.0.0.1:{port}")
        page["html"] = HOST_PAGE.format(engine=engine, key=key)
        driver = browser()
        try:
            shoot(driver, f"http://127.0.0.1:{port}/", args.out)
        finally:
            driver.quit()
            site.shutdown()
            server.should_exit = True
            thread.join(timeout=10)
            container.close()
    print(f"wrote {args.out / 'widget-open.png'} and {args.out / 'widget.png'}")


if __name__ == "__main__":
    main()
