"""Webhook delivery: vetted URLs, signatures, and the background worker that sends events.

Every published event becomes a persisted delivery per interested subscription (in the
publisher's thread: one small insert), then a worker thread hands due deliveries to a small pool
that POSTs them, signed, to the vetted address of the URL's host (no redirects followed). A
non-2xx answer or a network error is retried with exponential backoff and jitter until
``max_attempts``; deliveries survive a restart because the worker only ever reads the database.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx

from kb.access.secrets import SecretUnreadable
from kb.errors import UrlRefused, WebhookNotFound
from kb.net.addresses import AddressPolicy, AddressRefused
from kb.net.connections import pinned_url, tls_context
from kb.runtime.events import Event
from kb.settings.service import WebhookSettings
from kb.webhooks.models import Attempt, Delivery
from kb.webhooks.repository import WebhookRepository

log = logging.getLogger(__name__)
USER_AGENT = "kb-engine-webhooks/1"
MAX_URL_LENGTH = 2048
# How long the worker sleeps when nothing is due; new events and finished attempts wake it.
_IDLE_S = 5.0
_SNIPPET_BYTES = 1024
_SETTING = "KB_WEBHOOK__ALLOWED_HOSTS"


def check_url(url: str, allowed_hosts: Sequence[str]) -> list[str]:
    """The vetted addresses of a webhook URL's host; UrlRefused for anything the crawler would
    refuse, and for URLs with credentials, control characters or over 2048 characters."""
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise UrlRefused("The URL holds whitespace or control characters.")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError as exc:
        raise UrlRefused(f"The URL cannot be parsed: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("Only http and https webhook URLs are accepted.")
    if "@" in parts.netloc:
        raise UrlRefused("Webhook URLs may not carry credentials (user:password@).")
    if not parts.hostname:
        raise UrlRefused("The URL has no host.")
    try:
        return AddressPolicy(allowed_hosts, setting=_SETTING).addresses(url)
    except AddressRefused as exc:
        raise UrlRefused(exc.reason) from exc


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``{timestamp}.{body}`` under ``secret`` (the ``v1`` scheme)."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def retry_delay(attempts: int, settings: WebhookSettings) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling, jittered."""
    ceiling = min(settings.max_delay_s, settings.base_delay_s * 2 ** (attempts - 1))
    return random.uniform(ceiling / 2, ceiling)


class WebhookDispatcher:
    """Turns events into deliveries and sends them in the background."""

    def __init__(
        self,
        repository: WebhookRepository,
        settings: WebhookSettings,
        claim: Callable[[Delivery], bool] | None = None,
    ) -> None:
        self._repo = repository
        self._settings = settings
        # Several processes sending (kb.webhooks.outbox.DeliveryClaims): only the one that
        # claims a due delivery sends it.
        self._claim = claim
        self._client = httpx.Client(
            # Identity encoding: the snippet kept of an answer is read raw, never decompressed.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            timeout=httpx.Timeout(settings.timeout_s),
            # A fresh connection per attempt: the whole-attempt deadline (_post) cuts the
            # socket it saw being opened, which a reused connection would not report.
            limits=httpx.Limits(max_keepalive_connections=0),
            follow_redirects=False,
            verify=tls_context(settings.ca_file),
            trust_env=False,  # never through a proxy from the environment
        )
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._in_flight: set[str] = set()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None

    def on_event(self, event: Event) -> None:
        """Persist a delivery of ``event`` per interested subscription (an EventBus subscriber)."""
        if self._repo.enqueue(event):
            self._wake.set()

    def wake(self) -> None:
        """Look for due deliveries now."""
        self._wake.set()

    def start(self) -> None:
        """Start the worker; deliveries left open by a previous process are sent first."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._pool = ThreadPoolExecutor(self._settings.workers, "webhook")
            self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker, waiting for attempts under way; open deliveries stay stored."""
        with self._lock:
            self._stop.set()
            thread, pool = self._thread, self._pool
        self._wake.set()
        if thread is not None:
            thread.join()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            idle = _IDLE_S
            try:
                self._dispatch_due()
                idle = self._idle_time()
            except Exception:
                log.exception("webhook worker could not read the delivery log")
            self._wake.wait(idle)

    def _dispatch_due(self) -> None:
        with self._lock:
            free = self._settings.workers - len(self._in_flight)
            busy = list(self._in_flight)
        if free <= 0 or self._pool is None:
            return
        for delivery in self._repo.due(datetime.now(UTC), free, busy):
            if self._claim is not None and not self._claim(delivery):
                continue  # another process sends it
            with self._lock:
                if self._stop.is_set():
                    return
                self._in_flight.add(delivery.id)
            self._pool.submit(self._attempt, delivery)

    def _idle_time(self) -> float:
        due = self._repo.next_due_at()
        if due is None:
            return _IDLE_S
        wait = (due - datetime.now(UTC)).total_seconds()
        # Due now means in flight (or over the worker limit): a finished attempt wakes us.
        return _IDLE_S if wait <= 0 else min(wait, _IDLE_S)

    def _attempt(self, delivery: Delivery) -> None:
        try:
            try:
                sent = self._send(delivery)
            except WebhookNotFound:
                return  # deleted meanwhile, with its delivery log
            except Exception as exc:
                # Counted as a failed attempt, so a bug cannot make the worker retry at once.
                log.exception("webhook delivery %s could not be attempted", delivery.id)
                sent = None, f"internal error: {type(exc).__name__}", None
            recorded = self._repo.record(
                delivery.id,
                self._outcome(delivery, *sent),
                self._settings.disable_after_failures,
            )
            if recorded is not None and recorded.status != "succeeded":
                log.warning(
                    "webhook delivery %s (%s) attempt %d: %s",
                    delivery.id,
                    delivery.event,
                    recorded.attempts,
                    recorded.last_error,
                )
        except Exception:
            log.exception("webhook delivery %s: the attempt could not be recorded", delivery.id)
        finally:
            with self._lock:
                self._in_flight.discard(delivery.id)
            self._wake.set()

    def _send(self, delivery: Delivery) -> tuple[int | None, str | None, str | None]:
        """POST the delivery once: (status code, error, response snippet)."""
        hook = self._repo.get(delivery.webhook_id)
        try:
            signing = self._repo.signing_secrets(hook.id)
            addresses = check_url(hook.url, self._settings.allowed_hosts)
        except (UrlRefused, SecretUnreadable) as exc:
            return None, f"{exc.code}: {exc.detail}", None
        timestamp = str(int(time.time()))
        body = delivery.body.encode()
        headers = {
            "Content-Type": "application/json",
            "X-KB-Event": delivery.event,
            "X-KB-Delivery": delivery.id,
            "X-KB-Timestamp": timestamp,
            # During a rotation both secrets sign, so receivers may switch at their own pace.
            "X-KB-Signature": ",".join(f"v1={signature(s, timestamp, body)}" for s in signing),
            "Host": urlsplit(hook.url).netloc,
        }
        error = "no address to connect to"
        for address in addresses:
            request = self._client.build_request(
                "POST",
                pinned_url(hook.url, address),
                content=body,
                headers=headers,
                extensions={"sni_hostname": urlsplit(hook.url).hostname or ""},
            )
            deadline = _Deadline(self._settings.timeout_s * 2)
            request.extensions["trace"] = deadline.trace
            try:
                with deadline:
                    return self._post(request)
            except httpx.ConnectError as exc:
                error = f"connection failed: {exc}"  # try the host's next address
            except httpx.TimeoutException:
                return None, f"timed out after {self._settings.timeout_s} s", None
            except httpx.HTTPError as exc:
                if deadline.expired:
                    return None, f"gave up after {deadline.seconds:g} s in all", None
                return None, f"{type(exc).__name__}: {exc}", None
        return None, error, None

    def _post(self, request: httpx.Request) -> tuple[int | None, str | None, str | None]:
        response = self._client.send(request, stream=True)
        deadline = time.monotonic() + self._settings.timeout_s
        try:
            snippet = bytearray()
            for piece in response.iter_raw():
                snippet += piece
                # Only the start is kept, and a receiver dripping its answer is not waited for.
                if len(snippet) >= _SNIPPET_BYTES or time.monotonic() > deadline:
                    break
        finally:
            response.close()
        text = bytes(snippet[:_SNIPPET_BYTES]).decode("utf-8", "replace")
        error = None if response.is_success else f"HTTP {response.status_code}"
        return response.status_code, error, text

    def _outcome(
        self, delivery: Delivery, code: int | None, error: str | None, snippet: str | None
    ) -> Attempt:
        if error is None:
            return Attempt("succeeded", code, None, snippet)
        attempts = delivery.attempts + 1
        if attempts >= self._settings.max_attempts:
            return Attempt("failed", code, error, snippet)
        due = datetime.now(UTC) + timedelta(seconds=retry_delay(attempts, self._settings))
        return Attempt("retrying", code, error, snippet, due)


class _Deadline:
    """Bounds a whole delivery attempt: httpx's timeouts apply per read, so a receiver sending
    one byte a second could hold a worker for ever. When time is up the attempt's socket is
    shut down from a timer thread, which ends the blocked read with an error."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def trace(self, name: str, info: dict[str, object]) -> None:
        """httpcore's trace hook: remembers the socket of the connection it opens."""
        if name == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = getattr(stream, "get_extra_info", lambda _name: None)("socket")
            if isinstance(sock, socket.socket):
                self._sockets.append(sock)

    def _expire(self) -> None:
        self.expired = True
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()
