"""Logging for ``kb serve``: JSON lines (or text) on stderr, request ids, secrets masked.

Every record passes ``RedactSecrets`` before it is formatted: a secret that reaches a log
message by mistake is masked, as defense in depth behind "never log secrets".
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import IO, Any

from api.request_id import current_request_id
from kb.settings.service import LogSettings

# (pattern, replacement): the public part of our keys is kept, so a masked line stays useful.
_SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\b(kb_(?:live|pub)_[A-Za-z0-9]+)_[A-Za-z0-9_-]+"), r"\1_[REDACTED]"),
    (re.compile(r"(?i)\b(bearer)\s+(?!kb_(?:live|pub)_)[A-Za-z0-9._~+/=-]+"), r"\1 [REDACTED]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[REDACTED_JWT]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=_-]+"), "whsec_[REDACTED]"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{8,}"), "sk-[REDACTED]"),
    # Fernet tokens (version byte 0x80) and Fernet keys (32 bytes, url-safe base64).
    (re.compile(r"\bgAAAAA[A-Za-z0-9_-]{20,}={0,2}"), "[REDACTED_FERNET]"),
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}="), "[REDACTED_KEY]"),
)
# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with terminal colour codes
}


def redact(text: str) -> str:
    """``text`` with anything that looks like a secret masked."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class RedactSecrets(logging.Filter):
    """Masks secrets in the message, its arguments, the exception text and ``extra`` strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` in place; never drops it."""
        try:
            record.msg = redact(record.getMessage())
            record.args = None
        except Exception:  # bad format arguments: the handler reports them as logging does
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        record.exc_info = None  # the redacted text above is what gets printed
        for key, value in _extra(record).items():
            if isinstance(value, str):
                setattr(record, key, redact(value))
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, request_id, exc, then extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a single line of JSON."""
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        for key, value in _extra(record).items():
            if value is not None:
                line.setdefault(key, value)
        return json.dumps(line, default=str, ensure_ascii=False)


# Every C0 control character and DEL, shown escaped (\n, \r, \t, \x1b...).
_CONTROL_ESCAPES = {
    code: chr(code).encode("unicode_escape").decode("ascii") for code in [*range(32), 127]
}


class TextFormatter(logging.Formatter):
    """A human-readable line for local development, with the request id when there is one."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(rid)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text; ``[request id]`` after the logger name inside a request."""
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{request_id}]" if request_id else ""
        return super().format(record)

    def formatMessage(self, record: logging.LogRecord) -> str:
        """The line itself, control characters escaped: a path or header holding a newline
        must not forge a second log line (tracebacks, appended after, keep theirs)."""
        return super().formatMessage(record).translate(_CONTROL_ESCAPES)


def configure_logging(settings: LogSettings, stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger (uvicorn's too) through one handler on ``stream`` (stderr by default).

    Replaces the root logger's handlers; returns the new handler.
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter() if settings.format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.level)
    logging.captureWarnings(True)  # library warnings become JSON lines too
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print a second, unformatted line.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    return handler
