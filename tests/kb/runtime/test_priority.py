"""Background work at a lower CPU priority (kb.runtime.priority), on real threads."""

from __future__ import annotations

import contextvars
import os
import sys
import threading

import pytest

from kb.runtime.priority import Background, at_priority, thread_nice

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature"
)

REQUEST = contextvars.ContextVar("REQUEST", default="none")


def nice_of(native_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, native_id)


def where() -> tuple[int, int]:
    """The calling thread's id and nice value."""
    return threading.get_native_id(), thread_nice()


def test_work_runs_on_a_lower_priority_thread_and_the_caller_keeps_its_own() -> None:
    """The caller may serve searches next: its priority must never change (an unprivileged
    process cannot lower a nice value back)."""
    background = Background(10, name="test-bg")
    try:
        tid, nice = background.run(where)
        assert tid != threading.get_native_id()
        assert nice == 10
        assert thread_nice() == 0
    finally:
        background.close()


def test_background_work_started_inside_runs_inline_without_deadlock() -> None:
    """Ingestion called from a crawl's thread, or nested inside background work, runs where
    it is: a one-thread pool waiting on itself would hang."""
    background = Background(10, workers=1, name="test-bg")
    try:
        outer = background.run(lambda: (where(), background.run(where)))
        assert outer[0] == outer[1]
        started = at_priority(10, lambda: background.run(where))
        assert started[1] == 10
    finally:
        background.close()


def test_threads_started_at_priority_keep_it() -> None:
    """A runtime's worker pool started inside ``at_priority`` keeps the lower priority."""
    seen: list[int] = []

    def start_pool() -> str:
        worker = threading.Thread(target=lambda: seen.append(thread_nice()))
        worker.start()
        worker.join()
        return "started"

    assert at_priority(12, start_pool) == "started"
    assert seen == [12]
    assert thread_nice() == 0


def test_errors_and_context_reach_the_caller() -> None:
    background = Background(10, name="test-bg")
    token = REQUEST.set("req-42")
    try:
        assert background.run(REQUEST.get) == "req-42"
        with pytest.raises(ValueError, match="bad page"):
            background.run(lambda: (_ for _ in ()).throw(ValueError("bad page")))
        with pytest.raises(KeyError):
            at_priority(10, lambda: {}["missing"])
    finally:
        REQUEST.reset(token)
        background.close()


def test_nice_zero_runs_on_the_caller() -> None:
    """KB_INGEST__BACKGROUND_NICE=0: as before, work runs on the calling thread."""
    background = Background(0, name="test-bg")
    try:
        assert background.run(where) == where()
        assert at_priority(0, where) == where()
    finally:
        background.close()
