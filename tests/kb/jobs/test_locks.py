"""Knowledge-base write locks across processes, on a real PostgreSQL: two engines (as two
processes have) take turns on one knowledge base, not on two, and a holder may re-enter."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine

from kb.jobs.locks import KbLocks
from tests.support.postgres_server import postgres_server, postgres_url  # noqa: F401


def test_two_processes_take_turns_on_one_knowledge_base(postgres_url: str) -> None:  # noqa: F811
    first = KbLocks(create_engine(postgres_url))
    second = KbLocks(create_engine(postgres_url))
    order: list[str] = []
    held = threading.Event()

    def other() -> None:
        held.wait(10)
        with second("kb_1"):
            order.append("second")

    thread = threading.Thread(target=other)
    thread.start()
    with first("kb_1"), first("kb_1"):  # re-entrant in its thread
        held.set()
        time.sleep(0.5)  # the other "process" is waiting on the advisory lock meanwhile
        with second("kb_2"):  # another knowledge base is not held up
            order.append("other kb")
        order.append("first")
    thread.join(10)
    assert order == ["other kb", "first", "second"]
