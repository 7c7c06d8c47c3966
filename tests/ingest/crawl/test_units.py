"""The crawler's pure parts: URL normalisation, scope, address safety, robots.txt, sitemaps,
link extraction, near-duplicate fingerprints and the spacing of requests to a host."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

import httpx
import pytest

from ingest.crawl import frontier
from ingest.crawl.dedupe import FingerprintIndex, fingerprint
from ingest.crawl.directives import agent_token, header_directives
from ingest.crawl.frontier import HostGate
from ingest.crawl.links import extract_links
from ingest.crawl.robots import rules_from_response
from ingest.crawl.sitemaps import gunzip_capped, parse_sitemap
from ingest.crawl.urls import Scope, normalize_url
from kb.net.addresses import AddressPolicy, AddressRefused


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("HTTP://Example.COM:80/a#frag", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("https://example.com:8443//a//b/", "https://example.com:8443/a/b/"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c"),
        ("http://example.com/?b=2&a=1&utm_source=x", "http://example.com/?a=1&b=2"),
        ("http://user:pw@example.com/%7euser/%2f", "http://example.com/~user/%2F"),
        ("http://example.com/a b", "http://example.com/a%20b"),
        ("http://bücher.de/", "http://xn--bcher-kva.de/"),
        ("mailto:a@example.com", None),
        ("javascript:alert(1)", None),
        ("ftp://example.com/file", None),
        ("http://example.com:99999/", None),
    ],
)
def test_normalize_url(raw: str, normal: str | None) -> None:
    assert normalize_url(raw) == normal


def test_relative_links_resolve_against_the_page() -> None:
    assert normalize_url("../c?x=1", "http://example.com/a/b/") == "http://example.com/a/c?x=1"
    assert normalize_url("//other.org/p", "https://example.com/") == "https://other.org/p"


def test_scope_reasons() -> None:
    scope = Scope(
        hosts=frozenset({"example.com"}),
        path_prefix="/docs/",
        include=(re.compile(r"/docs/"),),
        exclude=(re.compile(r"\.zip$"),),
    )
    assert scope.why_not("http://example.com/docs/a") is None
    assert scope.why_not("http://other.com/docs/a") == "out_of_scope_host"
    assert scope.why_not("http://example.com/blog/") == "out_of_scope_path"
    assert scope.why_not("http://example.com/docs/all.zip") == "excluded"


def _resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, _port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


@pytest.mark.parametrize(
    ("url", "category"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://10.1.2.3/", "private"),
        ("http://169.254.169.254/", "link-local"),
        ("http://224.0.0.1/", "multicast"),
        ("http://240.0.0.1/", "reserved"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 of 127.0.0.1
        ("http://[2002:a9fe:a9fe::1]/", "link-local"),  # 6to4 of 169.254.169.254
        ("http://[2001:0:7f00:1::80ff:fffe]/", "loopback"),  # Teredo, client 127.0.0.1
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.0.1/", "non-public"),
        ("http://sneaky.example/", "private"),  # one of its addresses is private
    ],
)
def test_non_public_addresses_are_refused(url: str, category: str) -> None:
    policy = AddressPolicy(resolver=_resolver({"sneaky.example": ["93.184.216.34", "10.0.0.5"]}))
    policy_real = AddressPolicy()
    with pytest.raises(AddressRefused, match=f"{category} address"):
        (policy if "sneaky" in url else policy_real).addresses(url)


def test_allowlist_by_network_and_by_host() -> None:
    table = {"wiki.internal": ["10.1.0.7"], "db.internal": ["10.2.0.1"], "pub.example": ["8.8.8.8"]}
    policy = AddressPolicy(["10.1.0.0/16", "DB.internal."], resolver=_resolver(table))
    assert policy.addresses("http://wiki.internal/") == ["10.1.0.7"]
    assert policy.addresses("http://db.internal/") == ["10.2.0.1"]
    assert policy.addresses("https://pub.example/") == ["8.8.8.8"]
    with pytest.raises(AddressRefused, match="does not resolve"):
        policy.addresses("http://missing.example/")
    with pytest.raises(AddressRefused, match="only http and https"):
        policy.addresses("gopher://pub.example/")


def test_a_host_is_resolved_once_per_policy() -> None:
    """Regression guard for DNS rebinding: the vetted answer is the one connected to."""
    answers = [["8.8.8.8"], ["127.0.0.1"]]
    policy = AddressPolicy(resolver=lambda _host, _port: answers.pop(0))
    assert policy.addresses("http://flip.example/") == ["8.8.8.8"]
    assert policy.addresses("http://flip.example/again") == ["8.8.8.8"]


def test_robots_rules() -> None:
    rules = rules_from_response(
        200,
        b"User-agent: kb-engine-crawler\nDisallow: /drafts/\nAllow: /drafts/public\n"
        b"Crawl-delay: 2.5\n\nUser-agent: *\nDisallow: /\nSitemap: https://e.com/s.xml\n",
    )
    agent = "kb-engine-crawler/0.1 (+https://kb-engine.dev/crawler)"
    assert rules.allows("https://e.com/guide", agent)
    assert not rules.allows("https://e.com/drafts/x", agent)
    assert rules.allows("https://e.com/drafts/public", agent)
    assert not rules.allows("https://e.com/guide", "OtherBot/1.0")
    assert rules.crawl_delay(agent) == 2.5
    assert rules.sitemaps() == ["https://e.com/s.xml"]
    assert rules_from_response(404, b"").allows("https://e.com/x", agent)
    assert not rules_from_response(503, b"").allows("https://e.com/x", agent)
    assert not rules_from_response(0, b"").allows("https://e.com/x", agent)


def test_sitemaps_plain_gzipped_index_and_bombs() -> None:
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    urlset = f"<urlset {ns}><url><loc> https://e.com/a </loc></url></urlset>".encode()
    assert parse_sitemap(urlset).pages == ["https://e.com/a"]
    assert parse_sitemap(gzip.compress(urlset)).pages == ["https://e.com/a"]
    index = f"<sitemapindex {ns}><sitemap><loc>https://e.com/s2.xml.gz</loc></sitemap>"
    assert parse_sitemap((index + "</sitemapindex>").encode()).sitemaps == [
        "https://e.com/s2.xml.gz"
    ]
    with pytest.raises(ValueError, match="inflates"):
        gunzip_capped(gzip.compress(b"\0" * 100_000), limit=10_000)
    with pytest.raises(ValueError, match="entities"):
        parse_sitemap(b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset/>')
    with pytest.raises(ValueError, match="not a sitemap"):
        parse_sitemap(b"<html><body>Not found</body></html>")


def test_extract_links_canonical_and_robots_meta() -> None:
    html = b"""<html><head><base href="/docs/"><link rel="canonical" href="guide">
    <meta name="robots" content="noindex, nofollow"></head><body>
    <nav><a href="/">Home</a> menu words</nav>
    <main><h1>Guide</h1><p>Body text.</p><a href="a#x">A</a><a href="a">A again</a>
    <a href="mailto:x@e.com">mail</a><a href="https://other.org/">other</a></main></body></html>"""
    page = extract_links(html, "https://e.com/docs/guide?print=1")
    assert page.links == ["https://e.com/", "https://e.com/docs/a", "https://other.org/"]
    assert page.canonical == "https://e.com/docs/guide"
    assert page.noindex and page.nofollow
    assert page.text == "Guide Body text. A A again mail other"  # nav left out


AGENT = agent_token("kb-engine-crawler/0.1 (+https://kb-engine.dev/crawler)")


@pytest.mark.parametrize("unit", [b"<!--", b"<!", b"</a", b"<a", b"<![CDATA[", b"<?"])
def test_hostile_markup_is_read_without_the_quadratic_stdlib_tokenizer(
    unit: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression (issue 19): links were read with html.parser, quadratic on "<!--" runs."""
    # CVE-2025-6069: 200 KB of "<!--" cost 17 s of CPU (bench/hostile_html.py); any use of
    # the stdlib tokenizer now fails the test instead of timing it.
    monkeypatch.setattr(HTMLParser, "goahead", lambda *_: pytest.fail("html.parser was used"))
    head = b"<html><body><main><a href='/before'>Before</a>"
    tail = b"<a href='/after'>After</a><p>Tail text.</p></main></body></html>"
    unterminated = extract_links(head + unit * 100_000 + tail, "https://e.com/")
    # As in a browser, the construct runs to the end of the page; what came before it stays.
    assert unterminated.links[0] == "https://e.com/before"
    closed = extract_links(head + unit * 100_000 + b">" + tail, "https://e.com/")
    assert closed.links == ["https://e.com/before", "https://e.com/after"]
    assert closed.text.startswith("Before") and closed.text.endswith("After Tail text.")


def test_link_extraction_keeps_text_runs_entities_and_agent_scoped_meta() -> None:
    """Regression guard (issue 19): the lxml extractor must read pages as html.parser did."""
    html = b"""<HTML><HEAD><META NAME="googlebot" CONTENT="noindex">
    <meta name="KB-Engine-Crawler" content="nofollow"></HEAD><BODY>
    <A HREF="/q?a=1&amp;b=2">Caf&eacute; &amp; bar</A><b>Bold</b>tail<!-- hidden -->
    <base href="https://cdn.e.com/x/"><a href="rel">late base</a></BODY></HTML>"""
    page = extract_links(html, "https://e.com/", AGENT)
    assert page.links == ["https://cdn.e.com/q?a=1&b=2", "https://cdn.e.com/x/rel"]
    assert page.text == "Café & bar Bold tail late base"
    assert page.nofollow and not page.noindex  # googlebot's meta is not ours
    assert not extract_links(html, "https://e.com/").nofollow  # no agent: robots meta only


def test_x_robots_tag_applies_unscoped_or_to_our_agent_only() -> None:
    """Regression (issue 19): "X-Robots-Tag: googlebot: noindex" was taken as meant for us."""
    assert AGENT == "kb-engine-crawler"
    for_google = header_directives(["googlebot: noindex, nofollow"], AGENT)
    assert not for_google.noindex and not for_google.nofollow
    ours = header_directives(["googlebot: noindex", "KB-Engine-Crawler: noindex"], AGENT)
    assert ours.noindex and not ours.nofollow
    # Each header line starts unscoped; a prefix scopes what follows it on its line only.
    headers = httpx.Headers([("X-Robots-Tag", "otherbot: nofollow"), ("X-Robots-Tag", "noindex")])
    both = header_directives(headers.get_list("x-robots-tag"), AGENT)
    assert both.noindex and not both.nofollow
    mixed = header_directives(["nofollow, otherbot: noindex, kb-engine-crawler: none"], AGENT)
    assert mixed.noindex and mixed.nofollow
    # Directives with a value ("max-snippet: 20", dates) name no crawler.
    valued = header_directives(["max-snippet: 20, noindex"], AGENT)
    assert valued.noindex
    dated = header_directives(["unavailable_after: Monday, 25 Jun 2040 15:00:00 GMT"], AGENT)
    assert not dated.noindex and not dated.nofollow
    assert not header_directives([], AGENT).noindex


def test_near_duplicates_share_a_fingerprint_band() -> None:
    text = " ".join(f"word{i} filler{i % 7}" for i in range(200))
    index = FingerprintIndex()
    assert index.claim("https://e.com/a", fingerprint(text)) is None
    near = fingerprint(text + " Updated on Tuesday.")
    assert index.claim("https://e.com/b", near) == "https://e.com/a"
    other = fingerprint(" ".join(f"other{i} text{i % 5}" for i in range(200)))
    assert index.claim("https://e.com/c", other) is None
    # A page compared with its own earlier version is not its own duplicate.
    assert index.claim("https://e.com/a", fingerprint(text)) is None
    # Short pages are compared exactly: a shared template line must not merge them.
    assert fingerprint("Page 1 of the catalogue") != fingerprint("Page 2 of the catalogue")


class _Clock:
    """A monotonic clock that moves only when told (or when the gate waits)."""

    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now


class _Cancel:
    """Stands in for the crawl's cancel event: waiting on it moves the clock, never cancels."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def is_set(self) -> bool:
        return False

    def wait(self, timeout: float) -> bool:
        self.clock.now += timeout
        return False


def test_the_host_gate_spaces_requests_from_the_previous_actual_release(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Regression: request gaps were timed on a real clock (failed under load); a fake one now."""
    # Spaced by the delay from the previous actual release: a worker released late (the CPU
    # busy) does not let the next ones out in a burst; other hosts and delay 0 are not held.
    clock = _Clock()
    monkeypatch.setattr(frontier, "time", clock)
    gate = HostGate(_Cancel(clock))  # type: ignore[arg-type]
    releases = []
    for _ in range(3):
        assert gate.wait("a.example", 1.0)
        releases.append(clock.now)
    assert releases == [100.0, 101.0, 102.0]
    clock.now += 5  # the next worker comes late
    for _ in range(2):
        assert gate.wait("a.example", 1.0)
        releases.append(clock.now)
    assert releases[3:] == [107.0, 108.0]  # late, then one delay later: no burst
    assert gate.wait("b.example", 1.0) and clock.now == 108.0
    assert gate.wait("a.example", 0) and clock.now == 108.0
