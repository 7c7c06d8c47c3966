"""Work on a schedule that runs once per period across every process, not once per replica.

A DB-lease scheduler rather than celery beat: every process that runs one (each ``kb worker``,
and the API in the embedded default) ticks, and for each entry whose time has come, the process
whose conditional ``UPDATE`` moves ``next_run_at`` on is the one that runs it. No single beat
process to keep alive, and the embedded default needs no broker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import DateTime, String, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from kb.db.base import Base, new_id

log = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class ScheduleRow(Base):
    __tablename__ = "job_schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    holder: Mapped[str | None] = mapped_column(String(64), nullable=True)


@dataclass(frozen=True)
class Entry:
    """A task run every ``period_s`` seconds."""

    name: str
    period_s: float
    run: Callable[[], object]


class Scheduler:
    """Ticks on a thread; each due entry runs in the one process that claims it."""

    def __init__(self, engine: Engine, entries: list[Entry], tick_s: float = 0.5) -> None:
        Base.metadata.create_all(engine, tables=[ScheduleRow.__table__])  # type: ignore[list-item]
        self._engine = engine
        self._sessions = sessionmaker(engine)
        self.entries = list(entries)
        self._tick_s = tick_s
        self.holder = new_id("sched")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # When each entry is next due, as last seen: no query until then.
        self._due: dict[str, datetime] = {}

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    def add(self, entry: Entry) -> None:
        """Schedule one more task (before ``start``)."""
        self.entries.append(entry)

    def claim(self, entry: Entry) -> bool:
        """Whether this process runs ``entry`` now (and moves its next run on)."""
        now = _now()
        if now < self._due.get(entry.name, now):
            return False
        try:
            with self._session() as session:
                if session.get(ScheduleRow, entry.name) is None:
                    session.add(ScheduleRow(name=entry.name, next_run_at=now, holder=None))
        except IntegrityError:
            pass  # another process inserted it first
        with self._engine.begin() as connection:
            done = connection.execute(
                update(ScheduleRow)
                .where(ScheduleRow.name == entry.name, ScheduleRow.next_run_at <= now)
                .values(next_run_at=now + timedelta(seconds=entry.period_s), holder=self.holder)
            )
            if done.rowcount:
                self._due[entry.name] = now + timedelta(seconds=entry.period_s)
                return True
        with self._session() as session:
            row = session.get(ScheduleRow, entry.name)
            if row is not None:  # another process ran it: not due before its next run
                due = row.next_run_at
                self._due[entry.name] = due if due.tzinfo else due.replace(tzinfo=UTC)
        return False

    def tick(self) -> list[str]:
        """Run every entry that is due and claimed here; their names."""
        ran = []
        for entry in self.entries:
            try:
                if not self.claim(entry):
                    continue
                ran.append(entry.name)
                entry.run()
            except Exception:
                log.exception("scheduled task %s failed", entry.name)
        return ran

    def start(self) -> None:
        """Tick on a daemon thread until ``stop``."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._tick_s):
            self.tick()

    def stop(self) -> None:
        """Stop ticking (a task under way finishes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
