"""The outbound allowlist: entries for internal hosts may name a port, and then open only it."""

from __future__ import annotations

import ipaddress

import pytest

from kb.net.addresses import AddressPolicy, AddressRefused, allowlist_entry

TABLE = {"wiki.internal": ["10.1.0.7"], "localhost": ["127.0.0.1"]}


def _policy(*allowed: str) -> AddressPolicy:
    return AddressPolicy(allowed, resolver=lambda host, _port: TABLE.get(host, [host]))


def test_an_entry_with_a_port_opens_only_that_port() -> None:
    """Regression (security review): allowing one internal site (127.0.0.1:8080) opened every
    port of its host to the crawler and to webhooks."""
    policy = _policy("127.0.0.1:8080", "wiki.internal:8443", "[::1]:9000")
    assert policy.addresses("http://127.0.0.1:8080/page") == ["127.0.0.1"]
    assert policy.addresses("https://wiki.internal:8443/") == ["10.1.0.7"]
    assert policy.addresses("http://[::1]:9000/") == ["::1"]
    for refused in (
        "http://127.0.0.1/",  # port 80
        "http://127.0.0.1:6379/",  # the Redis next door
        "https://wiki.internal/",  # port 443
        "http://[::1]:9001/",
        "http://localhost:8081/",  # another name for the host, another port
    ):
        with pytest.raises(AddressRefused, match="refused on port"):
            policy.addresses(refused)
    # The port belongs to the entry, not to the address: localhost:8080 is 127.0.0.1:8080.
    assert policy.addresses("http://localhost:8080/") == ["127.0.0.1"]


def test_an_entry_without_a_port_keeps_opening_every_port() -> None:
    policy = _policy("127.0.0.1", "wiki.internal", "10.2.0.0/16")
    assert policy.addresses("http://127.0.0.1:6379/") == ["127.0.0.1"]
    assert policy.addresses("https://wiki.internal:8443/") == ["10.1.0.7"]
    assert policy.addresses("http://10.2.3.4:81/") == ["10.2.3.4"]


def test_default_ports_count_as_the_entrys_port() -> None:
    policy = _policy("wiki.internal:443", "127.0.0.1:80")
    assert policy.addresses("https://wiki.internal/") == ["10.1.0.7"]
    assert policy.addresses("http://127.0.0.1/") == ["127.0.0.1"]
    with pytest.raises(AddressRefused):
        policy.addresses("http://wiki.internal/")  # http: port 80


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("Wiki.Internal.", ("wiki.internal", None)),
        ("wiki.internal:8080", ("wiki.internal", 8080)),
        ("127.0.0.1:8080", (ipaddress.ip_network("127.0.0.1/32"), 8080)),
        ("10.1.0.0/16", (ipaddress.ip_network("10.1.0.0/16"), None)),
        ("::1", (ipaddress.ip_network("::1/128"), None)),
        ("[fd00::1]:443", (ipaddress.ip_network("fd00::1/128"), 443)),
    ],
)
def test_entries_are_read_as_documented(entry: str, parsed: object) -> None:
    assert allowlist_entry(entry) == parsed


@pytest.mark.parametrize("entry", ["wiki.internal:0", "host:70000", "host:http", "[::1]x", ":80"])
def test_a_malformed_entry_is_refused_and_allows_nothing(entry: str) -> None:
    with pytest.raises(ValueError):
        allowlist_entry(entry)
    policy = _policy(entry, "wiki.internal:8080")  # the service keeps working
    assert policy.addresses("http://wiki.internal:8080/") == ["10.1.0.7"]
    with pytest.raises(AddressRefused):
        policy.addresses("http://wiki.internal:80/")
