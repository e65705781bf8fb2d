"""Whether a proposed meeting time suits everyone in the pair (engine layer, pure).

A time outside someone's working hours or on their weekend is not refused: people across time
zones sometimes choose an early or late call. It is shown with each person's local time and
booked only once the booker confirms, or picks one of the times that suit everyone.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conversations.programme import Settings
from conversations.working_hours import in_working_hours

SUGGESTIONS = 3


@dataclass(frozen=True)
class Member:
    name: str
    zone: str
    is_self: bool = False


@dataclass(frozen=True)
class LocalTime:
    name: str
    zone: str
    at: datetime  # in the member's zone
    working: bool
    is_self: bool

    @property
    def place(self) -> str:
        return self.zone.rsplit("/", 1)[-1].replace("_", " ")


def local_times(at: datetime, members: list[Member], settings: Settings) -> list[LocalTime]:
    return [LocalTime(m.name, m.zone, at.astimezone(ZoneInfo(m.zone)),
                      in_working_hours(at, m.zone, settings), m.is_self) for m in members]


def suits_everyone(at: datetime, members: list[Member], settings: Settings) -> bool:
    return all(in_working_hours(at, m.zone, settings) for m in members)


def suggestions(at: datetime, members: list[Member], settings: Settings, now: datetime,
                latest: datetime, zone: str) -> list[datetime]:
    """Up to three whole or half hours that suit everyone: on the proposed day (in the booker's
    zone) nearest to the proposed time, else on the following days."""
    tz = ZoneInfo(zone)
    day = at.astimezone(tz).date()
    for offset in range(8):
        candidates = []
        for half_hours in range(48):
            moment = (datetime.combine(day + timedelta(days=offset), datetime.min.time(), tz)
                      + timedelta(minutes=30 * half_hours))
            if now < moment <= latest and suits_everyone(moment, members, settings):
                candidates.append(moment)
        if candidates:
            candidates.sort(key=lambda m: abs((m - at).total_seconds()))
            return sorted(candidates[:SUGGESTIONS])
    return []


def overlap_start(day_moment: datetime, members: list[Member], settings: Settings,
                  zone: str) -> datetime | None:
    """The first half hour of the proposed local day that suits everyone (the form's default)."""
    tz = ZoneInfo(zone)
    start = datetime.combine(day_moment.astimezone(tz).date(), datetime.min.time(), tz)
    for half_hours in range(48):
        moment = start + timedelta(minutes=30 * half_hours)
        if suits_everyone(moment, members, settings):
            return moment
    return None
