"""Address safety: the crawler must not be turned against the server's own network (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

SCHEMES = frozenset({"http", "https"})
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


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


class AddressPolicy:
    """Checks a URL's scheme and every address its host resolves to; caches per host.

    ``allowed`` entries (host names, IP addresses or CIDR networks) may be reached even when
    non-public: internal wikis, and tests serving a site on 127.0.0.1.
    """

    def __init__(
        self,
        allowed: Iterable[str] = (),
        resolver: Resolver = resolve,
        setting: str = "KB_CRAWL__ALLOWED_HOSTS",
    ) -> None:
        self._setting = setting  # named in refusals: where to allow a non-public host
        self._hosts: set[str] = set()
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in allowed:
            try:
                self._networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                self._hosts.add(entry.strip().lower().rstrip("."))
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
        if host in self._hosts:
            return addresses
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            category = _category(ip)
            if category and not any(ip in net for net in self._networks):
                return AddressRefused(
                    f"{host!r} resolves to {category} address {ip}, which is refused "
                    f"(allow it with {self._setting})"
                )
        return addresses
