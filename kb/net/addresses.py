"""Address safety: the crawler must not be turned against the server's own network (SSRF)."""

from __future__ import annotations

import functools
import ipaddress
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

SCHEMES = frozenset({"http", "https"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
log = logging.getLogger(__name__)


class AddressRefused(Exception):
    """The URL's scheme or one of its host's addresses may not be reached."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _category(ip: IPAddress) -> str | None:
    """What makes an address non-public, or None for a public one."""
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        return _category(mapped)
    # 6to4 (2002::/16) and Teredo (2001::/32) addresses carry an IPv4 address a relay would
    # reach: 2002:7f00:1:: is 127.0.0.1 in disguise.
    embedded = [getattr(ip, "sixtofour", None), *(getattr(ip, "teredo", None) or ())]
    for inner in embedded:
        if inner is not None and (found := _category(inner)) is not None:
            return found
    # Most specific first: Python counts link-local and reserved ranges as "private" too.
    for name in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    # Shared address space (100.64/10), documentation and benchmarking ranges, 6to4 relays...
    return None if ip.is_global else "non-public"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def allowlist_entry(entry: str) -> tuple[str | Network, int | None]:
    """An allowlist entry's host name (lower case) or network, and its port (None: any port).

    ``wiki.internal``, ``10.1.0.0/16``, ``::1``: every port; ``wiki.internal:8080``,
    ``127.0.0.1:8080``, ``[::1]:8080``: that port only. ValueError for a malformed port.
    """
    text, port = entry.strip(), None
    if text.startswith("["):  # [IPv6] or [IPv6]:port
        inside, _, rest = text[1:].partition("]")
        if rest and not rest.startswith(":"):
            raise ValueError(f"{entry!r}: write an IPv6 address with a port as [address]:port")
        text, port = inside, (_port(entry, rest[1:]) if rest else None)
    elif text.count(":") == 1:  # host:port (a bare IPv6 address has two or more colons)
        text, _, given = text.partition(":")
        port = _port(entry, given)
    try:
        return ipaddress.ip_network(text, strict=False), port
    except ValueError:
        host = text.lower().rstrip(".")
        if not host:
            raise ValueError(f"{entry!r} names no host") from None
        return host, port


def _port(entry: str, text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{entry!r}: {text!r} is not a port (1-65535)")
    return int(text)


@functools.lru_cache(maxsize=256)
def _usable_entry(entry: str) -> tuple[str | Network, int | None] | None:
    # Cached, so a malformed entry is logged once, not once per crawl or delivery; it allows
    # nothing (as an unknown host name always did) rather than failing every request.
    try:
        return allowlist_entry(entry)
    except ValueError as exc:
        log.warning("ignoring an allowlist entry: %s", exc)
        return None


class AddressPolicy:
    """Checks a URL's scheme and every address its host resolves to; caches per host and port.

    ``allowed`` entries (host names, IP addresses or CIDR networks, each optionally with a port,
    see ``allowlist_entry``) may be reached even when non-public: internal wikis, and tests
    serving a site on 127.0.0.1. An entry with a port opens that port only, so allowing one
    internal site does not open every service of its host.
    """

    def __init__(
        self,
        allowed: Iterable[str] = (),
        resolver: Resolver = resolve,
        setting: str = "KB_CRAWL__ALLOWED_HOSTS",
    ) -> None:
        self._setting = setting  # named in refusals: where to allow a non-public host
        self._hosts: list[tuple[str, int | None]] = []
        self._networks: list[tuple[Network, int | None]] = []
        for entry in allowed:
            parsed = _usable_entry(entry)
            if parsed is None:
                continue
            target, port = parsed
            if isinstance(target, str):
                self._hosts.append((target, port))
            else:
                self._networks.append((target, port))
        self._resolver = resolver
        # One answer per host for a policy's life: a host cannot resolve to a public address
        # when checked and to a private one when connected (DNS rebinding).
        self._cache: dict[tuple[str, int], list[str] | AddressRefused] = {}
        self._lock = threading.Lock()

    def addresses(self, url: str) -> list[str]:
        """The vetted addresses to connect to for ``url``; raises AddressRefused otherwise."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise AddressRefused(f"only http and https URLs are crawled, not {parts.scheme!r}")
        host = (parts.hostname or "").lower().rstrip(".")
        if not host:
            raise AddressRefused("the URL has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        key = (host, port)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self._check(host, port)
            with self._lock:
                self._cache[key] = cached
        if isinstance(cached, AddressRefused):
            raise cached
        return cached

    def _check(self, host: str, port: int) -> list[str] | AddressRefused:
        try:
            addresses = self._resolver(host, port)
        except (OSError, UnicodeError) as exc:
            return AddressRefused(f"the host {host!r} does not resolve: {exc}")
        if not addresses:
            return AddressRefused(f"the host {host!r} does not resolve")
        if any(name == host and allowed in (None, port) for name, allowed in self._hosts):
            return addresses
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            category = _category(ip)
            if category and not any(
                ip in net and allowed in (None, port) for net, allowed in self._networks
            ):
                return AddressRefused(
                    f"{host!r} resolves to {category} address {ip}, which is refused on port "
                    f"{port} (allow it with {self._setting})"
                )
        return addresses
