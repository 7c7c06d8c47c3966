"""Guards below the HTTP parser: a deadline for each request's head, and a cap on the
connections one address holds open.

uvicorn has neither: its keep-alive timeout covers only the idle time after a response, so a
client that connects and sends nothing, or sends its headers a byte at a time, holds a
connection (and a file descriptor) for as long as it likes, and no request ever reaches the
rate limiter. ``guarded_protocol`` wraps uvicorn's HTTP protocol (httptools or h11) in both
guards, using only what both implementations share: the asyncio Protocol calls and ``cycle``,
the request being served (a new one exists as soon as a request's head is parsed).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections import Counter
from collections.abc import Iterable
from typing import Any, ClassVar

from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.utils import get_remote_addr

from kb.errors import KBError, RequestTimeout, TooManyRequests

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def raw_problem(error: KBError) -> bytes:
    """A whole HTTP/1.1 response with ``error``'s problem+json body that closes the connection,
    for answers given before any request reached the app."""
    body = json.dumps(error.to_dict()).encode()
    head = (
        f"HTTP/1.1 {error.status} {error.title}\r\n"
        "content-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class ConnectionGuard:
    """What the guarded connections of one server share: the head deadline, and how many
    connections each client address holds (connections from ``exempt`` networks, the trusted
    proxies, are not counted: the proxy keeps its own per-client limit)."""

    def __init__(
        self, header_timeout_s: float, max_per_address: int, exempt: Iterable[str] = ()
    ) -> None:
        self.header_timeout_s = header_timeout_s
        self.max_per_address = max_per_address
        self._exempt: list[Network] = [ipaddress.ip_network(e, strict=False) for e in exempt]
        self._open: Counter[str] = Counter()  # only touched on the event loop's thread

    def _counted(self, address: str | None) -> bool:
        if not self.max_per_address or address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return True
        return not any(ip in network for network in self._exempt)

    def admit(self, address: str | None) -> bool:
        """Count a new connection from ``address``; False (not counted) when it is one too many."""
        if not self._counted(address):
            return True
        assert address is not None
        if self._open[address] >= self.max_per_address:
            return False
        self._open[address] += 1
        return True

    def release(self, address: str | None) -> None:
        """Forget a connection that ``admit`` let in."""
        if self._counted(address):
            assert address is not None
            self._open[address] -= 1
            if self._open[address] <= 0:
                del self._open[address]

    def open_connections(self, address: str) -> int:
        """Connections ``address`` holds now."""
        return self._open[address]


class _Guarded(asyncio.Protocol):
    """Mixed in before uvicorn's HTTP protocol class (see ``guarded_protocol``)."""

    guard: ClassVar[ConnectionGuard]
    cycle: Any  # uvicorn's RequestResponseCycle of the current request, None before the first
    transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Count the connection (or mark it refused) and start the first head's deadline."""
        remote = get_remote_addr(transport)  # type: ignore[arg-type]
        self._peer = remote[0] if remote else None
        self._admitted = self.guard.admit(self._peer)
        self._head_timer: asyncio.TimerHandle | None = None
        self._timed_cycle: Any = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Refuse a connection over the cap; else time each request's head from its first
        byte and stop the clock once the head is parsed."""
        if not self._admitted:
            self._answer(
                TooManyRequests(
                    f"More than {self.guard.max_per_address} connections from one address; "
                    "retry once one of them has closed."
                )
            )
            return
        if self._head_timer is None and (self.cycle is None or self.cycle.response_complete):
            self._arm()
        super().data_received(data)
        if self._head_timer is not None and self.cycle is not self._timed_cycle:
            self._disarm()  # a new request's head is complete: it is the app's now

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clock and uncount the connection."""
        self._disarm()
        if self._admitted:
            self._admitted = False
            self.guard.release(self._peer)
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._timed_cycle = self.cycle
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self.guard.header_timeout_s, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.cycle is not self._timed_cycle or self.transport.is_closing():
            return  # the head arrived meanwhile (a pipelined request started by uvicorn)
        seconds = f"{self.guard.header_timeout_s:g}"
        self._answer(RequestTimeout(f"The request's headers did not arrive within {seconds} s."))

    def _answer(self, error: KBError) -> None:
        if not self.transport.is_closing():
            self.transport.write(raw_problem(error))
            self.transport.close()


def guarded_protocol(
    guard: ConnectionGuard, base: type[asyncio.Protocol] = AutoHTTPProtocol
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol ``base`` with ``guard``'s head deadline and connection cap, for
    ``uvicorn.run(..., http=...)``."""
    return type(f"Guarded{base.__name__}", (_Guarded, base), {"guard": guard})
