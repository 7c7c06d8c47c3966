"""Business hours in a knowledge base's time zone: open or not at a moment, the next opening
(across days, weeks and a daylight-saving change), and the notice a visitor reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.handoff.policy import HandoffPolicy, parse_interval

PARIS = HandoffPolicy.from_dict(
    {
        "enabled": True,
        "timezone": "Europe/Paris",
        "business_hours": {"mon": ["09:00-12:00", "14:00-18:00"], "sat": ["10:00-24:00"]},
    }
)


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (datetime(2026, 12, 7, 8, 30, tzinfo=UTC), True),  # Monday 09:30 in Paris (UTC+1)
        (datetime(2026, 12, 7, 7, 59, tzinfo=UTC), False),  # 08:59
        (datetime(2026, 12, 7, 11, 0, tzinfo=UTC), False),  # 12:00: the interval ends
        (datetime(2026, 12, 7, 13, 0, tzinfo=UTC), True),  # 14:00
        (datetime(2026, 12, 8, 9, 0, tzinfo=UTC), False),  # Tuesday
        (datetime(2026, 12, 12, 22, 59, tzinfo=UTC), True),  # Saturday 23:59
    ],
)
def test_open_in_the_knowledge_bases_time_zone(moment: datetime, open_: bool) -> None:
    assert PARIS.hours.is_open(moment) is open_


def test_the_next_opening_is_the_next_interval_start_even_a_week_on() -> None:
    lunch = datetime(2026, 12, 7, 11, 30, tzinfo=UTC)  # Monday 12:30 in Paris
    assert PARIS.hours.next_opening(lunch) == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
    sunday = datetime(2026, 12, 13, 12, 0, tzinfo=UTC)
    assert PARIS.hours.next_opening(sunday) == datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    tuesday = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    assert PARIS.hours.next_opening(tuesday) == datetime(2026, 12, 12, 9, 0, tzinfo=UTC)


def test_the_opening_follows_daylight_saving_time() -> None:
    # Paris moves to UTC+2 on Sunday 29 March 2026: Monday 09:00 is 07:00 UTC.
    sunday = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert PARIS.hours.next_opening(sunday) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


def test_no_schedule_means_always_open_and_a_bad_interval_is_skipped() -> None:
    always = HandoffPolicy.from_dict({"enabled": True})
    assert always.hours.always and always.hours.is_open(datetime(2026, 1, 1, 3, tzinfo=UTC))
    lenient = HandoffPolicy.from_dict({"business_hours": {"mon": ["nonsense", "09:00-10:00"]}})
    assert len(lenient.hours.weekly["mon"]) == 1
    with pytest.raises(ValueError):
        parse_interval("18:00-09:00")


def test_the_out_of_hours_notice_says_when_in_the_visitors_language() -> None:
    opens = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    french = PARIS.notice("closed_hours", "fr", opens)
    assert "lundi 09:00 (Europe/Paris)" in french and "coordonnées" in french
    assert "Monday 09:00 (Europe/Paris)" in PARIS.notice("closed_hours", "en", opens)
    custom = HandoffPolicy.from_dict({"out_of_hours_message": "Back {when}!"})
    assert custom.notice("closed_hours", "en", opens) == "Back Monday 08:00 (UTC)!"
