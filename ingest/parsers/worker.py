"""A parse worker process, started by ``ingest.parsers.isolation``: it parses the documents sent
over its socket, one at a time, until the socket closes.

Run as ``python -m ingest.parsers.worker FD NICE``. Each request is ``(media_type, data,
limits)``; each reply is one of ``(OK, ParsedDocument)``, ``(REFUSED, error_type, detail,
extra)`` for a ``KBError`` a parser raised, or ``(FAILED, summary, traceback)`` for any other
exception.
"""

from __future__ import annotations

import logging
import pickle
import signal
import sys
import traceback
from multiprocessing.connection import Connection
from typing import Any

from ingest.parsers.base import ParseLimits
from ingest.parsers.registry import parse_as
from kb.errors import KBError
from kb.runtime.priority import lower_thread_priority

READY = "ready"
OK = "ok"
REFUSED = "refused"
FAILED = "failed"

Reply = tuple[Any, ...]


def send(connection: Connection, message: object) -> None:
    """Send ``message`` pickled. ``Connection.send`` re-slices a ``bytes`` after each partial
    write, copying the rest each time (~1 s for a 20 MB upload); a memoryview slices for free."""
    connection.send_bytes(memoryview(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)))


def receive(connection: Connection) -> Any:
    """A message ``send`` sent."""
    return pickle.loads(connection.recv_bytes())


def parse_reply(media_type: str, data: bytes, limits: ParseLimits) -> Reply:
    """Parse, and say how it went in a form that pickles (a ``KBError``'s ``extra`` would not
    survive pickling the exception itself)."""
    try:
        return (OK, parse_as(media_type, data, limits))
    except KBError as exc:
        return (REFUSED, type(exc), exc.detail, exc.extra)
    except Exception as exc:  # a parser bug this document triggers: the caller reports it
        return (FAILED, f"{type(exc).__name__}: {exc}"[:300], traceback.format_exc())


def main(argv: list[str]) -> None:
    """Serve parse requests on the socket ``argv[1]`` at nice value ``argv[2]``."""
    # The server decides when workers stop; Ctrl-C in its terminal is for the server.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_thread_priority(int(argv[2]))
    # pypdf warns about every oddity of a malformed file; the parse result says what matters.
    logging.basicConfig(level=logging.ERROR)
    connection = Connection(int(argv[1]))
    try:
        send(connection, READY)
        while True:
            media_type, data, limits = receive(connection)
            send(connection, parse_reply(media_type, data, limits))
    except (EOFError, OSError):  # the server closed the socket: stop
        return


if __name__ == "__main__":
    main(sys.argv)
