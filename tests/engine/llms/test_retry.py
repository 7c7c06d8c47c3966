"""Reading a provider's "retry after" hint."""

from __future__ import annotations

import email.utils
import time

import pytest

from engine.llms.retry import MAX_HINT_S, hinted_delay_s, next_delay_s


def test_seconds_and_http_dates_in_retry_after() -> None:
    assert hinted_delay_s({"retry-after": "7"}) == 7.0
    later = email.utils.formatdate(time.time() + 20, usegmt=True)
    assert 18 <= (hinted_delay_s({"Retry-After": later}) or 0) <= 20
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert hinted_delay_s({"retry-after": past}) == 0.0


@pytest.mark.parametrize("value", ["soon", "-3", "", "1e9"])
def test_unreadable_hints_are_ignored(value: str) -> None:
    assert hinted_delay_s({"retry-after": value}) is None


def test_google_retry_info_in_the_error_body() -> None:
    body = {
        "error": {
            "code": 429,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.Help"},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"},
            ],
        }
    }
    assert hinted_delay_s(None, body) == 2.5
    assert hinted_delay_s({}, {"error": {"details": "not a list"}}) is None
    assert hinted_delay_s({}, ["not", "a", "dict"]) is None


def test_the_hint_wins_over_backoff_unless_too_long() -> None:
    assert next_delay_s(2, 0.5, None) == 2.0
    assert next_delay_s(2, 0.5, 0.2) == 0.2
    assert next_delay_s(0, 0.5, MAX_HINT_S + 1) is None
