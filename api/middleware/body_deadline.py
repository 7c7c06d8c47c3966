"""Request bodies that arrive too slowly are answered 408 and their connections closed.

uvicorn waits for a body as long as the client keeps the connection open, so a client sending a
byte now and then holds a connection, and a request, for as long as it likes. This pure-ASGI
middleware puts a deadline on the app's waits for the body: the body may take ``timeout_s`` plus
one second per ``min_bytes_per_s`` bytes received. Only time spent waiting for the client
counts, not time the app spends before or between reads, and the deadline ends with the body
(a stream waiting for the client to disconnect is not cut).
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import problem
from kb.errors import RequestTimeout


class _BodyClock:
    """How long the app has waited for one request's body, against what it may wait."""

    def __init__(self, timeout_s: float, min_bytes_per_s: int) -> None:
        self.timeout_s = timeout_s
        self.min_bytes_per_s = min_bytes_per_s
        self.received = 0
        self.waited = 0.0
        self.complete = False
        self.late = False

    def remaining(self) -> float:
        """Seconds the next wait may take."""
        return self.timeout_s + self.received / self.min_bytes_per_s - self.waited

    def error(self) -> RequestTimeout:
        """The error answered once the body is late."""
        return RequestTimeout(
            f"The request body did not arrive in time (more than {self.timeout_s:g} s beyond "
            f"{self.min_bytes_per_s} bytes per second)."
        )


class BodyDeadline:
    """Answers 408 ``request_timeout`` (and closes the connection) when a request body does not
    arrive in time; the app's own answer to the failed read is discarded."""

    def __init__(self, app: ASGIApp, timeout_s: float, min_bytes_per_s: int) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_bytes_per_s = min_bytes_per_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        clock = _BodyClock(self.timeout_s, self.min_bytes_per_s)
        started = False

        async def timed_receive() -> Message:
            if clock.complete:
                return await receive()
            if clock.late:
                raise clock.error()
            loop = asyncio.get_running_loop()
            begun = loop.time()
            try:
                async with asyncio.timeout(max(clock.remaining(), 0)):
                    message = await receive()
            except TimeoutError:
                clock.late = True
                raise clock.error() from None
            finally:
                clock.waited += loop.time() - begun
            clock.received += len(message.get("body", b""))
            clock.complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if clock.late and not started:
                return  # whatever the app made of the failed read: the 408 below answers
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, guarded_send)
        except Exception:
            if not clock.late:
                raise
        if clock.late and not started:
            response = problem(clock.error())
            response.headers["Connection"] = "close"  # uvicorn closes it after the answer
            await response(scope, receive, send)
