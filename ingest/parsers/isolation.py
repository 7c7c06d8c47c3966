"""Parsing under a time budget: PDF, DOCX and HTML in worker processes killed when they overrun.

A hostile file can make a parser's cost superlinear in its size while it respects every cap: a
4.6 KB PDF of eight pages sharing one compressed stream of 250k text operators costs pypdf
~30 s of CPU; nested tables or ``<pre>`` blocks do the same to python-docx and BeautifulSoup.
A thread cannot be stopped mid-parse, and a pure-Python parse holds the GIL, slowing every
request of the server meanwhile; so these formats are parsed in worker processes, and a worker
still parsing after ``ParseLimits.parse_timeout_s`` is killed and replaced, and the document is
refused (``DocumentTooComplex``).

Sniffing and the text formats (plain text, Markdown: a decode and line scans, linear in the
size) run in the caller: a worker round trip would cost them more than it protects.

Workers are fresh interpreters (``python -m ingest.parsers.worker``), not forks: the server has
threads, and a fork copies their locks in whatever state they are. They are started when first
needed (``start`` starts them ahead), kept for the next document, and replaced after a kill
while the caller reports the refusal, so a kill costs the next document no start-up.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

from ingest.parsers import worker as worker_main
from ingest.parsers.base import ParsedDocument, ParseLimits
from ingest.parsers.registry import LINEAR_TIME_TYPES, parse_as
from ingest.parsers.sniff import sniff_media_type
from kb.errors import DocumentTooComplex, UnprocessableDocument

log = logging.getLogger(__name__)

# A worker's start-up (an interpreter importing pypdf, python-docx, lxml, bs4) is not the
# document's fault; this only catches a worker that cannot start at all.
_START_TIMEOUT_S = 60.0
# Python keeps the peak memory of the largest document a worker parsed; a fresh worker now and
# then gives it back.
_JOBS_PER_WORKER = 200
# Where the ``ingest`` package lives, so workers import this very code.
_SOURCE_ROOT = str(Path(__file__).resolve().parents[2])


def default_workers() -> int:
    """Workers for this machine: one per CPU, at least 2 (one hostile file never holds them
    all) and at most 4 (each holds ~50 MB)."""
    return min(4, max(2, os.cpu_count() or 1))


class ParserPool:
    """The parse step of ingestion (a ``ParseFn``): sniffs the type, parses text formats in the
    caller and the others in one of ``workers`` worker processes at CPU nice value ``nice``,
    each parse under ``limits.parse_timeout_s``."""

    def __init__(self, workers: int | None = None, nice: int = 0) -> None:
        self._nice = nice
        self._size = workers or default_workers()
        self._slots = threading.BoundedSemaphore(self._size)
        self._guard = threading.Lock()
        self._idle: list[_Worker] = []
        self._started = 0  # workers alive, idle or busy
        self._closed = False

    def __call__(
        self,
        data: bytes,
        limits: ParseLimits,
        filename: str | None = None,
        declared: str | None = None,
    ) -> ParsedDocument:
        """Sniff the media type of ``data`` and parse it (``ingest.parsers.registry``)."""
        media_type = sniff_media_type(data, filename=filename, declared=declared)
        if media_type in LINEAR_TIME_TYPES:
            return parse_as(media_type, data, limits)
        return self.parse_in_worker(media_type, data, limits)

    def parse_in_worker(self, media_type: str, data: bytes, limits: ParseLimits) -> ParsedDocument:
        """Parse in a worker process; ``DocumentTooComplex`` when it takes longer than
        ``limits.parse_timeout_s`` (waiting for a free worker does not count)."""
        with self._slots:
            for attempt in range(2):
                worker = self._take()
                try:
                    reply = worker.parse(media_type, data, limits)
                except _WorkerLost:
                    # Gone before it had the document (killed while idle, failed to start):
                    # not the document's fault, so it gets one more worker.
                    self._discard(worker, replace=True)
                    if attempt:
                        raise RuntimeError("parse workers die before they parse") from None
                    continue
                except BaseException:
                    # Overran, died parsing, or this thread was interrupted: its state is
                    # unknown, so it is never used again.
                    self._discard(worker, replace=True)
                    raise
                self._give_back(worker)
                break
        return _outcome(reply)

    def start(self) -> None:
        """Start every worker now rather than when the first document needs one."""
        with self._guard:
            while not self._closed and self._started < self._size:
                self._idle.append(_Worker(self._nice))
                self._started += 1

    def close(self) -> None:
        """Stop the idle workers; busy ones stop when their parse ends."""
        with self._guard:
            self._closed = True
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()

    def _take(self) -> _Worker:
        with self._guard:
            if self._closed:
                raise RuntimeError("the parser pool is closed")
            if self._idle:
                return self._idle.pop()
            self._started += 1
        return _Worker(self._nice)

    def _give_back(self, worker: _Worker) -> None:
        if worker.jobs >= _JOBS_PER_WORKER:
            self._discard(worker, replace=True)
            return
        with self._guard:
            if not self._closed:
                self._idle.append(worker)
                return
        self._discard(worker, replace=False)

    def _discard(self, worker: _Worker, replace: bool) -> None:
        worker.stop(kill=True)
        with self._guard:
            self._started -= 1
            if replace and not self._closed:
                self._idle.append(_Worker(self._nice))
                self._started += 1


class _WorkerLost(Exception):
    """The worker ended before it received the document."""


class _Worker:
    """One worker process and the socket to it."""

    def __init__(self, nice: int) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_SOURCE_ROOT, env.get("PYTHONPATH")]))
        with theirs:
            self._process = subprocess.Popen(
                [sys.executable, "-m", worker_main.__name__, str(theirs.fileno()), str(nice)],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=env,
                # Its own session: the server's Ctrl-C and job control are not the worker's.
                start_new_session=True,
            )
        self._connection = Connection(ours.detach())
        self._ready = False
        self.jobs = 0

    def parse(self, media_type: str, data: bytes, limits: ParseLimits) -> worker_main.Reply:
        """The worker's reply for one document, within ``limits.parse_timeout_s``."""
        self._await_ready()
        self.jobs += 1
        budget = limits.parse_timeout_s
        deadline = time.monotonic() + budget
        try:
            worker_main.send(self._connection, (media_type, data, limits))
        except OSError as exc:  # a broken pipe: it died while idle
            raise _WorkerLost from exc
        if not self._connection.poll(max(0.0, deadline - time.monotonic())):
            log.warning("refused a document whose parse ran over %g s", budget)
            raise DocumentTooComplex(
                f"the document is too complex to parse: it took longer than {budget:g} s, "
                "the limit for one document",
                limit_s=budget,
            )
        try:
            reply: worker_main.Reply = worker_main.receive(self._connection)
        except EOFError:
            code = self._process.wait(timeout=5)
            log.warning("a parse worker died (exit status %s) while parsing a document", code)
            raise UnprocessableDocument(
                "the parser stopped while reading the document (it ran out of memory, or "
                "crashed); the document cannot be ingested"
            ) from None
        return reply

    def _await_ready(self) -> None:
        if self._ready:
            return
        try:
            ready = self._connection.poll(_START_TIMEOUT_S) and (
                worker_main.receive(self._connection) == worker_main.READY
            )
        except (EOFError, OSError):
            ready = False
        if not ready:
            raise _WorkerLost
        self._ready = True

    def stop(self, kill: bool = False) -> None:
        """End the process: at once if ``kill``, else by closing its socket."""
        if kill:
            self._process.kill()
        self._connection.close()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def _outcome(reply: worker_main.Reply) -> ParsedDocument:
    """The parsed document of a worker's reply, or the error it reports raised here."""
    kind = reply[0]
    if kind == worker_main.OK:
        parsed: ParsedDocument = reply[1]
        return parsed
    if kind == worker_main.REFUSED:
        _, error_type, detail, extra = reply
        raise error_type(detail, **extra)
    _, summary, trace = reply
    log.warning("a parser failed on a document:\n%s", trace)
    raise UnprocessableDocument(f"the document cannot be parsed ({summary})")
