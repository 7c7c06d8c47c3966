"""Background work at a lower CPU priority, so searches stay fast while documents are ingested.

Ingestion saturates both cores of a small server for as long as it runs; a search arriving
meanwhile waited for CPU behind it (p50 ~2.2x the idle latency at 100k chunks). Work done for
ingestion (and crawls) runs instead on threads with a higher nice value, which the kernel
schedules after normal-priority threads whenever both want a core.

On Linux a thread's nice value is its own, and threads it starts inherit it. An unprivileged
process may raise a nice value but never lower it again, so background work runs only on threads
kept for it (``Background``'s pool, ``at_priority``), never on threads that also serve searches.
Elsewhere, or where the kernel refuses, everything runs at normal priority.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SUPPORTED = sys.platform.startswith("linux")
_local = threading.local()  # .background: this thread was started for background work
_warned = threading.Event()


def thread_nice() -> int:
    """The calling thread's nice value (0 where threads have none of their own)."""
    if not _SUPPORTED:
        return 0
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's nice value to at least ``nice`` (at most 19); True when it
    runs at that priority now. Cannot be undone: call it only on threads kept for such work."""
    _local.background = True
    if nice <= 0 or not _SUPPORTED:
        return False
    try:
        if thread_nice() < nice:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(nice, 19))
    except OSError as exc:  # a sandbox may refuse; the work still runs, at normal priority
        if not _warned.is_set():
            _warned.set()
            logger.warning("Cannot lower the CPU priority of background work: %s", exc)
        return False
    return True


def at_priority(nice: int, work: Callable[[], T]) -> T:
    """``work()``, run on a short-lived thread at nice value ``nice``: threads it starts (a
    runtime's worker pool, say) keep that priority after it returns."""
    if nice <= 0 or not _SUPPORTED:
        return work()
    outcome: list[Any] = []

    def run() -> None:
        lower_thread_priority(nice)
        try:
            outcome.append((True, work()))
        except BaseException as exc:  # handed back to the caller's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, name="low-priority-start")
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


class Background:
    """Runs work at background priority: on a small pool of threads kept at nice value
    ``nice``, or on the calling thread when it is a background thread already.

    ``nice`` 0 (or a platform without per-thread priorities) turns the priority off: ``run``
    then calls on the caller's thread, as if there were no pool. The caller's context variables
    (request id, audit actor) go with the work.
    """

    def __init__(self, nice: int, workers: int = 2, name: str = "background") -> None:
        self.nice = nice if _SUPPORTED else 0
        self._pool = ThreadPoolExecutor(
            workers, name, initializer=lower_thread_priority, initargs=(self.nice,)
        )

    def on_background_thread(self) -> bool:
        """True where work may run as it is: no priority to apply, a pool thread, or a thread
        already at this priority (started by a background thread, which it inherited)."""
        if self.nice <= 0 or getattr(_local, "background", False):
            return True
        return thread_nice() >= self.nice

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Start ``fn(*args, **kwargs)`` on the pool (for callers that await the result)."""
        context = contextvars.copy_context()
        return self._pool.submit(context.run, fn, *args, **kwargs)

    def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` at background priority, waiting for its result."""
        if self.on_background_thread():
            return fn(*args, **kwargs)
        return self.submit(fn, *args, **kwargs).result()

    def close(self) -> None:
        """Wait for running work and stop the pool."""
        self._pool.shutdown(wait=True, cancel_futures=True)
