"""Crawl a real local site end to end: robots.txt, sitemaps, redirects, refusals, duplicates,
then re-crawl after a change and after a deletion."""

from __future__ import annotations

import gzip
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.container import build_container
from ingest.crawl.frontier import HostGate
from kb.embeddings.sentence_transformer import SentenceTransformerEmbedder
from tests.conftest import admin_headers, make_settings
from tests.support.crawl_site import FixtureSite, Resource, serve
from tests.support.pdf_factory import make_pdf

CRAWL_DELAY = 0.05
FILLER = (
    "Example Corp builds measuring instruments for laboratories and field stations. "
    "Every instrument ships with a calibration certificate and a printed manual. "
)


def _write_site(site: FixtureSite) -> None:
    base = site.base
    site.resources["/robots.txt"] = Resource(
        f"User-agent: *\nDisallow: /private/\nCrawl-delay: {CRAWL_DELAY}\n"
        f"Sitemap: {base}/sitemap_index.xml\n".encode(),
        content_type="text/plain",
    )
    site.resources["/sitemap_index.xml"] = Resource(
        _sitemap("sitemapindex", "sitemap", [f"{base}/sitemaps/pages.xml.gz"]),
        content_type="application/xml",
    )
    site.resources["/sitemaps/pages.xml.gz"] = Resource(
        gzip.compress(_sitemap("urlset", "url", [f"{base}/orphan", f"{base}/about"])),
        content_type="application/gzip",
    )
    links = [
        "/docs/", "/about", "/about#team", "/private/secret", "/redirect-me", "/loop-a",
        "/missing", "/files/manual.pdf", "/files/blob.bin", "/img/logo.png", "/big",
        "/dup-a", "/dup-b", "/print/about", "/noindex", "/to-metadata", "/to-private",
        "http://example.com/elsewhere", "mailto:sales@example.com", f"{base}//docs//",
    ]  # fmt: skip
    anchors = "".join(f"<li><a href='{href}'>{href}</a></li>" for href in links)
    site.html("/", f"<h1>Example Corp</h1><p>{FILLER}</p><ul>{anchors}</ul>", "Home")
    site.html("/docs/", "<h1>Docs</h1><p>Start here.</p><a href='level1'>next</a>", "Docs")
    site.html("/docs/level1", "<h1>Level one</h1><a href='level2'>deeper</a>", "Level 1")
    site.html("/docs/level2", "<h1>Level two</h1><a href='./level3'>deeper</a>", "Level 2")
    site.html(
        "/docs/level3",
        "<h1>Zorblax</h1><p>The aurora index of the Zorblax sensor is 42 lumens.</p>",
        "Zorblax sensor",
        last_modified="Wed, 01 Jan 2025 00:00:00 GMT",
        etag=False,
    )
    site.html("/about", "<h1>About</h1><p>Example Corp was founded in 1987 in Reykjavik.</p>")
    site.html(
        "/print/about",
        "<h1>About</h1><p>Example Corp was founded in 1987 in Reykjavik.</p>"
        "<link rel='canonical' href='/about'>",
    )
    site.html("/orphan", "<h1>Orphan</h1><p>Only the sitemap knows this page.</p>")
    site.html("/moved", "<h1>Moved</h1><p>The showroom moved to Harbour Street 9.</p>")
    site.html("/private/secret", "<p>Nobody should read this.</p>")
    site.html("/noindex", "<meta name='robots' content='noindex'><p>Draft page.</p>")
    article = FILLER * 8
    site.html("/dup-a", f"<h1>Release notes</h1><p>{article} Updated on Monday.</p>")
    site.html("/dup-b", f"<h1>Release notes</h1><p>{article} Updated on Tuesday.</p>")
    site.html("/big", "<p>" + "big page " * 20_000 + "</p>")
    site.redirect("/redirect-me", "/moved")
    site.redirect("/loop-a", "/loop-b", 302)
    site.redirect("/loop-b", "/loop-a", 302)
    site.redirect("/to-metadata", "http://169.254.169.254/latest/meta-data/", 302)
    site.redirect("/to-private", "http://10.0.0.1/admin", 307)
    site.resources["/files/manual.pdf"] = Resource(
        make_pdf(["Frobnicator manual", "The warranty period of the Frobnicator is 7 years."]),
        content_type="application/pdf",
    )
    site.resources["/files/blob.bin"] = Resource(
        os.urandom(4096), content_type="application/octet-stream"
    )
    site.resources["/img/logo.png"] = Resource(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png")


def _sitemap(root: str, entry: str, urls: list[str]) -> bytes:
    items = "".join(f"<{entry}><loc>{url}</loc></{entry}>" for url in urls)
    ns = "http://www.sitemaps.org/schemas/sitemap/0.9"
    return f'<?xml version="1.0"?><{root} xmlns="{ns}">{items}</{root}>'.encode()


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    fixture = FixtureSite()
    with serve(fixture):
        _write_site(fixture)
        yield fixture


@pytest.fixture
def api(tmp_path: Path, embedder: SentenceTransformerEmbedder) -> Iterator[TestClient]:
    settings = make_settings(tmp_path / "data")
    settings.crawl.allowed_hosts = ["127.0.0.1"]
    settings.crawl.max_page_bytes = 64 * 1024
    container = build_container(settings, embedder=embedder)
    with TestClient(
        create_app(container), raise_server_exceptions=False, headers=admin_headers(container)
    ) as client:
        yield client


def crawl(api: TestClient, kb_id: str, start: str, **options: Any) -> dict[str, Any]:
    """Start a crawl through the API and poll it until it ends."""
    body = {"start_urls": [start], "concurrency": 4, "delay_s": 0, **options}
    started = api.post(f"/v1/kbs/{kb_id}/crawls", json=body)
    assert started.status_code == 202, started.text
    crawl_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = api.get(f"/v1/kbs/{kb_id}/crawls/{crawl_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.05)
    raise AssertionError("the crawl did not finish")


def documents(api: TestClient, kb_id: str) -> dict[str, dict[str, Any]]:
    items = api.get(f"/v1/kbs/{kb_id}/documents?limit=1000").json()["items"]
    return {doc["source"]: doc for doc in items}


def outcomes(counts: dict[str, Any]) -> int:
    return (
        counts["ingested"]
        + counts["unchanged"]
        + counts["removed"]
        + sum(counts["skipped"].values())
        + sum(counts["failed"].values())
    )


def test_crawl_recrawl_after_change_and_after_deletion(
    api: TestClient, site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected: list[Any] = []
    real_connect = socket.socket.connect

    def spy(sock: socket.socket, address: Any) -> Any:
        connected.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    delays: list[float] = []
    real_wait = HostGate.wait

    def recording_wait(gate: HostGate, host: str, delay: float) -> bool:
        delays.append(delay)
        return real_wait(gate, host, delay)

    monkeypatch.setattr(HostGate, "wait", recording_wait)
    kb_id = api.post("/v1/kbs", json={"name": "site"}).json()["id"]
    base = site.base

    started = time.monotonic()
    first = crawl(api, kb_id, base + "/")
    counts = first["counts"]
    assert first["status"] == "done", first
    stored = documents(api, kb_id)
    expected = {
        "/", "/docs/", "/docs/level1", "/docs/level2", "/docs/level3", "/about", "/moved",
        "/orphan", "/files/manual.pdf",
    }  # fmt: skip
    assert {s for s in stored if "/dup-" not in s} == {base + p for p in expected}
    assert len([s for s in stored if "/dup-" in s]) == 1  # near-duplicates kept once
    assert counts["ingested"] == len(expected) + 1
    assert counts["skipped"] == {
        "robots_disallowed": 1,
        "refused_address": 2,
        "out_of_scope_host": 1,
        "unsupported_content_type": 2,
        "too_large": 1,
        "near_duplicate": 1,
        "duplicate_canonical": 1,
        "noindex": 1,
    }
    assert counts["failed"] == {"redirect_loop": 1, "http_404": 1}
    assert counts["discovered"] == outcomes(counts)

    paths = site.paths()
    assert paths.count("/about") == 1 and paths.count("/docs/") == 1  # each page once
    assert "/private/secret" not in paths  # robots.txt obeyed
    assert "/sitemaps/pages.xml.gz" in paths  # sitemap index followed into a gzipped sitemap
    # The refused redirect targets were never connected to.
    assert connected and {addr[0] for addr in connected} == {"127.0.0.1"}
    # Crawl-delay beats the requested delay of 0 for every request after robots.txt (which
    # comes first and cannot wait for itself); the gate's spacing has its own test
    # (test_units). A lower bound only: a busy machine makes a crawl later, never earlier.
    assert site.paths()[0] == "/robots.txt"
    assert len(delays) == len(site.requests) and delays[0] == 0
    assert set(delays[1:]) == {CRAWL_DELAY}
    last = max(seen.at for seen in site.requests)
    assert last - started >= (len(site.requests) - 2) * CRAWL_DELAY

    answer = api.post(
        f"/v1/kbs/{kb_id}/query", json={"question": "What is the aurora index of Zorblax?"}
    ).json()
    assert "42 lumens" in answer["answer"]
    assert answer["citations"][0]["source"] == base + "/docs/level3"

    # A changed page is re-ingested; the rest answer 304 and are not touched.
    site.html("/about", "<h1>About</h1><p>Example Corp was founded in 1991 in Oslo.</p>")
    site.clear()
    second = crawl(api, kb_id, base + "/")
    assert second["status"] == "done"
    assert second["counts"]["ingested"] == 1
    assert second["counts"]["unchanged"] == len(expected)
    conditional = {
        s.path
        for s in site.requests
        if "If-None-Match" in s.headers or "If-Modified-Since" in s.headers
    }
    assert {"/docs/level1", "/docs/level3", "/moved", "/files/manual.pdf"} <= conditional
    after = documents(api, kb_id)
    changed = {s for s in stored if after[s]["content_hash"] != stored[s]["content_hash"]}
    assert changed == {base + "/about"}
    assert all(
        after[s]["updated_at"] == stored[s]["updated_at"] for s in stored if s not in changed
    )

    # A page that is gone takes its document with it.
    del site.resources["/docs/level3"]
    third = crawl(api, kb_id, base + "/")
    assert third["counts"]["removed"] == 1
    assert base + "/docs/level3" not in documents(api, kb_id)
    gone = api.post(
        f"/v1/kbs/{kb_id}/query", json={"question": "What is the aurora index of Zorblax?"}
    ).json()
    assert "42 lumens" not in gone["answer"]


def test_header_noindex_gone_pages_and_disallowed_canonicals(api: TestClient) -> None:
    """Regression guard: X-Robots-Tag noindex, 410, robots-disallowed canonicals went untested."""
    # Each unguarded before (a mutation of each passed the suite): a header noindex keeps the
    # page out (and takes a stored one away), 410 removes like 404, and a canonical URL that
    # robots.txt disallows is neither fetched nor used as the stored page's source.
    site = FixtureSite()
    with serve(site):
        base = site.base
        site.resources["/robots.txt"] = Resource(
            b"User-agent: *\nDisallow: /private/\n", content_type="text/plain"
        )
        links = ["/header-noindex", "/later-noindex", "/retired", "/never", "/print/manual"]
        anchors = "".join(f"<a href='{href}'>{href}</a> " for href in links)
        site.html("/", f"<h1>Start</h1><p>{FILLER}</p>{anchors}", "Start")
        site.html(
            "/header-noindex",
            "<h1>Draft</h1><p>The draft price list is confidential.</p>",
            headers={"X-Robots-Tag": "noindex"},
        )
        site.html("/later-noindex", "<h1>Offers</h1><p>Spring offers end in May.</p>")
        site.html("/retired", "<h1>Retired</h1><p>The Model T sensor was retired in 2019.</p>")
        site.resources["/never"] = Resource(b"<h1>Gone</h1>", status=410)
        site.html(
            "/print/manual",
            "<h1>Manual</h1><p>Hold the reset button for ten seconds.</p>"
            "<link rel='canonical' href='/private/manual'>",
        )
        site.html("/private/manual", "<h1>Manual</h1><p>Hold the reset button.</p>")
        site.html("/about", "<h1>About</h1><p>Example Corp makes sensors.</p>")  # in the nav
        kb_id = api.post("/v1/kbs", json={"name": "site"}).json()["id"]

        first = crawl(api, kb_id, base + "/")
        assert first["status"] == "done", first
        assert set(documents(api, kb_id)) == {
            base + p for p in ("/", "/about", "/later-noindex", "/retired", "/print/manual")
        }
        assert first["counts"]["skipped"] == {"noindex": 1}
        assert first["counts"]["failed"] == {"http_410": 1}  # never stored: nothing to remove
        assert "/private/manual" not in site.paths()

        site.resources["/retired"] = Resource(b"<h1>Gone</h1>", status=410)
        site.html(
            "/later-noindex",
            "<h1>Offers</h1><p>Spring offers ended.</p>",
            headers={"X-Robots-Tag": "NoIndex, nofollow"},
        )
        second = crawl(api, kb_id, base + "/")
    assert second["status"] == "done", second
    assert set(documents(api, kb_id)) == {base + p for p in ("/", "/about", "/print/manual")}
    assert second["counts"]["removed"] == 1  # the 410, like a 404
    assert second["counts"]["skipped"] == {"noindex": 2}  # and the header took its page away


def test_x_robots_tag_keeps_out_any_response_and_only_when_meant_for_us(api: TestClient) -> None:
    """Regression (issue 19): X-Robots-Tag held only for HTML and took googlebot's as ours."""
    # A PDF or text file under "X-Robots-Tag: noindex" was indexed (the header was read only
    # when links were), "googlebot: noindex" kept a page from us, and a header nofollow was
    # never honoured. Before: /manual.pdf and /notes.txt stored, /for-google skipped,
    # /nofollow's link followed.
    site = FixtureSite()
    with serve(site):
        base = site.base
        site.resources["/robots.txt"] = Resource(b"User-agent: *\n", content_type="text/plain")
        links = ["/manual.pdf", "/notes.txt", "/for-google", "/for-us", "/nofollow"]
        anchors = "".join(f"<a href='{href}'>{href}</a> " for href in links)
        site.html("/", f"<h1>Start</h1><p>{FILLER}</p>{anchors}", "Start")
        site.resources["/manual.pdf"] = Resource(
            make_pdf(["Internal manual", "The service code of the Model Q is 7781."]),
            content_type="application/pdf",
            headers={"X-Robots-Tag": "noindex"},
        )
        site.resources["/notes.txt"] = Resource(
            b"Internal notes: the staff discount is forty percent.",
            content_type="text/plain; charset=utf-8",
            headers={"X-Robots-Tag": "none"},
        )
        site.html(
            "/for-google",
            "<h1>Public</h1><p>Opening hours are nine to five.</p>",
            headers={"X-Robots-Tag": "googlebot: noindex, nofollow"},
        )
        site.html(
            "/for-us",
            "<h1>Draft</h1><p>The draft is not ready.</p>",
            headers={"X-Robots-Tag": "googlebot: index, kb-engine-crawler: noindex"},
        )
        site.html(
            "/nofollow",
            "<h1>Links</h1><p>Partner pages.</p><a href='/hidden'>hidden</a>",
            headers={"X-Robots-Tag": "nofollow"},
        )
        site.html("/hidden", "<h1>Hidden</h1><p>Only a nofollow page links here.</p>")
        site.html("/about", "<h1>About</h1><p>Example Corp makes sensors.</p>")  # in the nav
        kb_id = api.post("/v1/kbs", json={"name": "site"}).json()["id"]
        done = crawl(api, kb_id, base + "/")
        assert "/hidden" not in site.paths()
    assert done["status"] == "done", done
    assert set(documents(api, kb_id)) == {
        base + p for p in ("/", "/about", "/for-google", "/nofollow")
    }
    assert done["counts"]["skipped"] == {"noindex": 3}
