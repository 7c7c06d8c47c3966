"""URL normalisation and crawl scope: one spelling per page, and which pages belong to a crawl."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from kb.net.addresses import SCHEMES

_DEFAULT_PORTS = {"http": 80, "https": 443}
# Query parameters that only track the visitor: the same page under many URLs otherwise.
_TRACKING = re.compile(r"^(?:utm_\w+|gclid|fbclid|msclkid|mc_cid|mc_eid|_ga|yclid)$", re.I)
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
# Characters left as they are in a path: RFC 3986 pchar plus "/" and already-escaped "%".
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _percent_case(match: re.Match[str]) -> str:
    char = chr(int(match.group()[1:], 16))
    # %7E and ~ are the same URL; %2F and / are not, so only unreserved characters are decoded.
    return char if char in _UNRESERVED else match.group().upper()


def _host(hostname: str) -> str:
    host = hostname.lower().rstrip(".")
    if ":" in host:
        return f"[{host}]"  # IPv6 literal
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _path(path: str) -> str:
    path = re.sub(r"/{2,}", "/", path or "/")
    trailing = path.endswith("/")
    path = posixpath.normpath(path) if path != "/" else "/"
    path = "/" + path.lstrip("/")
    if trailing and not path.endswith("/"):
        path += "/"
    return _PERCENT.sub(_percent_case, quote(path, safe=_PATH_SAFE))


def _query(query: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not _TRACKING.match(k)]
    # Sorted: ?a=1&b=2 and ?b=2&a=1 are one page on virtually every site.
    return urlencode(sorted(pairs), doseq=True)


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The canonical spelling of an http(s) URL, or None when it is not one.

    Resolves against ``base``, lowercases scheme and host, drops fragments, credentials, default
    ports, duplicate slashes, dot segments and tracking parameters, and sorts the query.
    """
    url = url.strip()
    try:
        parts = urlsplit(urljoin(base, url) if base else url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES or not parts.hostname:
        return None
    netloc = _host(parts.hostname)
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return urlunsplit((scheme, netloc, _path(parts.path), _query(parts.query), ""))


def host_of(url: str) -> str:
    """The host[:port] part of a normalised URL."""
    return urlsplit(url).netloc


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def last_segment(url: str) -> str | None:
    """The file name a URL ends with, if any (``/docs/guide.pdf`` -> ``guide.pdf``)."""
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return name or None


@dataclass(frozen=True)
class Scope:
    """Which URLs a crawl may visit: its hosts, an optional path prefix, include/exclude regexes."""

    hosts: frozenset[str]
    path_prefix: str | None = None
    include: tuple[re.Pattern[str], ...] = field(default_factory=tuple)
    exclude: tuple[re.Pattern[str], ...] = field(default_factory=tuple)

    def why_not(self, url: str) -> str | None:
        """None when ``url`` is in scope, else the reason it is not."""
        parts = urlsplit(url)
        if parts.netloc not in self.hosts:
            return "out_of_scope_host"
        if self.path_prefix and not parts.path.startswith(self.path_prefix):
            return "out_of_scope_path"
        if self.include and not any(p.search(url) for p in self.include):
            return "not_included"
        if any(p.search(url) for p in self.exclude):
            return "excluded"
        return None
