"""When to retry a provider call the engine retries itself: the server's own hint first.

A 429 or 503 often says how long to wait: the ``Retry-After`` header (seconds or an HTTP date)
or, from Google APIs, a ``google.rpc.RetryInfo`` detail in the error body
(``"retryDelay": "37s"``). Retrying sooner is refused again and burns the budget; so the hint
wins over exponential backoff. A hint longer than the caller can wait ends the retries at once.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

# The longest wait a hint may ask for; a provider asking for more has failed this question.
MAX_HINT_S = 30.0
_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def hinted_delay_s(headers: Mapping[str, str] | None, body: Any = None) -> float | None:
    """Seconds the server asked to wait before retrying, or None when it did not say."""
    value = (headers or {}).get("retry-after") or (headers or {}).get("Retry-After")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None and when.tzinfo is not None:
            return max(0.0, when.timestamp() - time.time())
    return _google_retry_delay(body)


def _google_retry_delay(body: Any) -> float | None:
    error = body.get("error") if isinstance(body, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("rpc.RetryInfo"):
            found = _DELAY.match(str(detail.get("retryDelay", "")))
            if found:
                return float(found[1])
    return None


def next_delay_s(attempt: int, backoff_s: float, hint_s: float | None) -> float | None:
    """The pause before retry number ``attempt + 1``, or None when the hint is too long."""
    if hint_s is None:
        return backoff_s * 2**attempt
    return hint_s if hint_s <= MAX_HINT_S else None
