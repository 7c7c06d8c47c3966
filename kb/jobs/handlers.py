"""What each kind of job does: a name -> handler registry filled by the composition root."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kb.jobs.models import Job


@dataclass
class JobContext:
    """What a handler gets: the job, a cancel switch, and a way to report progress."""

    job: Job
    cancel: threading.Event = field(default_factory=threading.Event)
    counts: dict[str, Any] = field(default_factory=dict)

    @property
    def payload(self) -> dict[str, Any]:
        """The job's input."""
        return self.job.payload

    def progress(self, counts: dict[str, Any]) -> None:
        """Record counts so far (saved with the next heartbeat)."""
        self.counts = dict(counts)


# A handler returns the job's final counts (None: the last ones reported).
Handler = Callable[[JobContext], dict[str, Any] | None]


class Handlers:
    """Handlers by kind; the built-in ones are registered the way an extension would be."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, kind: str, handler: Handler) -> None:
        """Run ``handler`` for jobs of ``kind`` (a later registration replaces it)."""
        self._handlers[kind] = handler

    def get(self, kind: str) -> Handler | None:
        """The handler of ``kind``, if one is registered."""
        return self._handlers.get(kind)

    def kinds(self) -> list[str]:
        """Every registered kind, sorted."""
        return sorted(self._handlers)
