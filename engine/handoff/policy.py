"""A knowledge base's handoff policy: whether people take conversations over, after how many
unanswered questions the bot offers one, when they work (a weekly schedule in a time zone), and
what the visitor is told.

Stored as JSON by ``kb.db.handoff`` (validated by the API's schema); read here leniently, so a
row written by an older version gets today's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[time, time]

_DAY_NAMES = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
}
NOTICES = {
    "requested": {
        "en": "I'm passing you to a person. They will reply here as soon as possible.",
        "fr": "Je vous mets en relation avec une personne. Elle vous répondra ici dès que "
        "possible.",
    },
    "held": {
        "en": "A person will reply here as soon as possible.",
        "fr": "Une personne vous répondra ici dès que possible.",
    },
    "closed_hours": {
        "en": "Our team is not available right now. A person will be available from {when}. "
        "You can leave your details and we will get back to you.",
        "fr": "Notre équipe n'est pas disponible pour le moment. Une personne sera disponible "
        "à partir de {when}. Vous pouvez laisser vos coordonnées et nous vous recontacterons.",
    },
}


def parse_interval(text: str) -> Interval:
    """``"09:00-18:00"`` as two times (ValueError unless the start is before the end;
    ``24:00`` ends a day)."""
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"an interval is HH:MM-HH:MM, not {text!r}")
    opens = time.fromisoformat(start.strip())
    closes = time.max if end.strip() == "24:00" else time.fromisoformat(end.strip())
    if opens >= closes:
        raise ValueError(f"{text!r} ends before it starts")
    return opens, closes


@dataclass(frozen=True)
class BusinessHours:
    """When people answer: intervals per weekday in ``timezone``; none at all means always."""

    timezone: str = "UTC"
    weekly: dict[str, tuple[Interval, ...]] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        """The time zone (UTC when unknown)."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @property
    def always(self) -> bool:
        """No schedule: someone is always there."""
        return not any(self.weekly.values())

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (aware) falls inside the schedule."""
        if self.always:
            return True
        local = at.astimezone(self.zone)
        now = local.time()
        return any(a <= now < b for a, b in self.weekly.get(DAYS[local.weekday()], ()))

    def next_opening(self, at: datetime) -> datetime | None:
        """The next moment the schedule opens after ``at`` (``at`` itself when open; None
        when the schedule never opens)."""
        if self.is_open(at):
            return at
        local = at.astimezone(self.zone)
        for offset in range(8):
            day = (local + timedelta(days=offset)).date()
            for opens, _closes in sorted(self.weekly.get(DAYS[day.weekday()], ())):
                moment = datetime.combine(day, opens, tzinfo=self.zone)
                if moment > local:
                    return moment
        return None

    def describe(self, moment: datetime, language: str) -> str:
        """``moment`` as a visitor reads it: "Monday 09:00 (Europe/Paris)"."""
        local = moment.astimezone(self.zone)
        names = _DAY_NAMES.get(language, _DAY_NAMES["en"])
        return f"{names[local.weekday()]} {local:%H:%M} ({self.timezone})"


@dataclass(frozen=True)
class HandoffPolicy:
    """A knowledge base's handoff settings (the defaults: handoff off)."""

    enabled: bool = False
    # Hand over after this many answers in a row the knowledge base could not give (0: never).
    after_unanswered: int = 0
    # Recognise "I want to talk to a person" in visitors' messages.
    recognise_requests: bool = True
    hours: BusinessHours = field(default_factory=BusinessHours)
    # Told outside business hours instead of the default; "{when}" is the next opening.
    out_of_hours_message: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HandoffPolicy:
        """From stored settings; a malformed interval is skipped, not fatal."""
        weekly: dict[str, tuple[Interval, ...]] = {}
        for day, intervals in (data.get("business_hours") or {}).items():
            if day in DAYS:
                kept = []
                for text in intervals or ():
                    try:
                        kept.append(parse_interval(str(text)))
                    except ValueError:
                        continue
                weekly[day] = tuple(kept)
        return cls(
            enabled=bool(data.get("enabled", False)),
            after_unanswered=max(0, int(data.get("after_unanswered") or 0)),
            recognise_requests=bool(data.get("recognise_requests", True)),
            hours=BusinessHours(str(data.get("timezone") or "UTC"), weekly),
            out_of_hours_message=data.get("out_of_hours_message") or None,
        )

    def notice(self, key: str, language: str, when: datetime | None = None) -> str:
        """What the visitor is told (``key``: requested, held or closed_hours)."""
        texts = NOTICES[key]
        text = texts.get(language) or texts["en"]
        if key == "closed_hours":
            if self.out_of_hours_message:
                text = self.out_of_hours_message
            described = self.hours.describe(when, language) if when else "?"
            return text.replace("{when}", described)
        return text
