"""Jobs on a shared executor, one per key at a time.

Uploads run on ingestion's two background threads. Were a knowledge base's uploads let onto
both at once, two files that run to the parse budget would make every other knowledge base's
uploads wait behind them; so each knowledge base has one job at a time on the threads, and its
later uploads queue behind it, not in front of everyone else's. Uploads to one knowledge base
were already one at a time (under its write lock), so none of them waits longer than before.
"""

from __future__ import annotations

import contextvars
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[Future[Any], contextvars.Context, Callable[..., Any], tuple[Any, ...]]


class OnePerKey:
    """Hands jobs to ``submit`` (an executor's), at most one per key at a time, in order."""

    def __init__(self, submit: Callable[..., Future[Any]]) -> None:
        self._submit = submit
        self._queues: dict[str, deque[_Job]] = {}
        self._guard = threading.Lock()

    def submit(self, key: str, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """``fn(*args)`` once the jobs of ``key`` submitted before it have ended; it runs in
        the caller's context (request id, audit actor)."""
        done: Future[T] = Future()
        job: _Job = (done, contextvars.copy_context(), fn, args)
        with self._guard:
            queue = self._queues.setdefault(key, deque())
            queue.append(job)
            first = len(queue) == 1
        if first and not self._launch(key, job):
            self._advance(key)
        return done

    def _launch(self, key: str, job: _Job) -> bool:
        """Start ``job``; False when it ended at once (cancelled, or the executor is shut)."""
        done, context, fn, args = job
        if not done.set_running_or_notify_cancel():
            return False
        try:
            running = self._submit(context.run, fn, *args)
        except BaseException as exc:
            done.set_exception(exc)
            return False
        running.add_done_callback(lambda ended: self._ended(key, done, ended))
        return True

    def _ended(self, key: str, done: Future[Any], ended: Future[Any]) -> None:
        error = ended.exception() if not ended.cancelled() else RuntimeError("job cancelled")
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(ended.result())
        self._advance(key)

    def _advance(self, key: str) -> None:
        """The head of ``key``'s queue has ended: start the next job, if any."""
        while True:
            with self._guard:
                queue = self._queues[key]
                queue.popleft()
                if not queue:
                    del self._queues[key]
                    return
                job = queue[0]
            if self._launch(key, job):
                return
