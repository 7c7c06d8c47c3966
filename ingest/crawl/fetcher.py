"""One HTTP request at a time, safely: vetted addresses only, streamed with a byte cap, timed out.

Redirects are not followed here: the crawler follows them itself so that every hop is checked
(scope, robots.txt, address) like a page of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from kb.net.addresses import AddressPolicy, AddressRefused
from kb.net.connections import pinned_url, tls_context

_ACCEPT = (
    "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,text/markdown;q=0.9,"
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document;q=0.9,*/*;q=0.1"
)


class FetchError(Exception):
    """A page could not be fetched; ``skipped`` tells a deliberate refusal from a failure."""

    def __init__(self, reason: str, detail: str = "", skipped: bool = False) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.skipped = skipped


@dataclass(frozen=True)
class FetchedResponse:
    """Status, headers and (for accepted 200 answers) the body of one response."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes | None

    @property
    def content_type(self) -> str:
        """The media type without parameters, lowercased ("" when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass(frozen=True)
class FetchLimits:
    """Timeouts and the byte cap of one download."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 20.0
    page_timeout_s: float = 60.0
    max_bytes: int = 10 * 1024 * 1024


class Fetcher:
    """GETs URLs through an AddressPolicy with one pooled HTTP client."""

    def __init__(
        self,
        policy: AddressPolicy,
        user_agent: str,
        limits: FetchLimits,
        pool_size: int = 4,
        ca_file: Path | None = None,
    ) -> None:
        self._policy = policy
        self._limits = limits
        self._client = httpx.Client(
            headers={"User-Agent": user_agent, "Accept": _ACCEPT},
            timeout=httpx.Timeout(
                limits.read_timeout_s, connect=limits.connect_timeout_s, pool=None
            ),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size),
            follow_redirects=False,
            trust_env=False,  # never route through a proxy from the environment
            verify=tls_context(ca_file),
        )

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        accept: Callable[[str], bool] = lambda _type: True,
        max_bytes: int | None = None,
    ) -> FetchedResponse:
        """GET ``url``; the body is read only for a 200 whose content type ``accept`` takes.

        Raises FetchError for refused addresses (before any connection), oversized bodies,
        timeouts and network errors.
        """
        try:
            addresses = self._policy.addresses(url)
        except AddressRefused as exc:
            raise FetchError("refused_address", exc.reason, skipped=True) from exc
        host = urlsplit(url).netloc
        last_error: httpx.TransportError | None = None
        for address in addresses:
            request = self._client.build_request(
                "GET",
                pinned_url(url, address),
                headers={"Host": host, **(headers or {})},
                extensions={"sni_hostname": urlsplit(url).hostname or ""},
            )
            try:
                return self._send(url, request, accept, max_bytes or self._limits.max_bytes)
            except httpx.ConnectError as exc:
                last_error = exc  # try the host's next address
            except httpx.TimeoutException as exc:
                raise FetchError("timeout", str(exc) or "timed out") from exc
            except httpx.HTTPError as exc:
                raise FetchError("connection_error", str(exc)) from exc
        raise FetchError("connection_error", str(last_error))

    def _send(
        self, url: str, request: httpx.Request, accept: Callable[[str], bool], max_bytes: int
    ) -> FetchedResponse:
        response = self._client.send(request, stream=True)
        try:
            fetched = FetchedResponse(url, response.status_code, response.headers, None)
            if response.status_code != 200 or not accept(fetched.content_type):
                return fetched
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError("too_large", f"{declared} bytes declared", skipped=True)
            return FetchedResponse(url, 200, response.headers, self._read(response, max_bytes))
        finally:
            response.close()

    def _read(self, response: httpx.Response, max_bytes: int) -> bytes:
        deadline = time.monotonic() + self._limits.page_timeout_s
        body = bytearray()
        # Decoded bytes are counted, so a small gzip bomb is cut off as early as a big page.
        for piece in response.iter_bytes():
            body += piece
            if len(body) > max_bytes:
                raise FetchError("too_large", f"over {max_bytes} bytes", skipped=True)
            if time.monotonic() > deadline:
                raise FetchError("timeout", "the page took too long to download")
        return bytes(body)
