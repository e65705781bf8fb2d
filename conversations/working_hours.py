"""When a person may be disturbed: their working hours, in their own time zone (DST-safe)."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from conversations.programme import Settings


def next_working_moment(moment: datetime, zone: str, settings: Settings) -> datetime:
    """`moment` itself if it falls in working hours, else the next start of working hours."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    day = local.date()
    for _ in range(15):
        if day.weekday() in settings.work_days:
            start = datetime.combine(day, settings.work_start, tz)
            end = datetime.combine(day, settings.work_end, tz)
            if local < start:
                return start.astimezone(moment.tzinfo)
            if local < end:
                return moment
        day += timedelta(days=1)
        local = datetime.combine(day, settings.work_start, tz) - timedelta(seconds=1)
    return moment


def in_working_hours(moment: datetime, zone: str, settings: Settings) -> bool:
    return next_working_moment(moment, zone, settings) == moment


def local_time_on(day_moment: datetime, zone: str, hour: int, minute: int = 0) -> datetime:
    """The given wall-clock time on the local day of `day_moment`."""
    tz = ZoneInfo(zone)
    local = day_moment.astimezone(tz)
    return local.replace(hour=hour, minute=minute, second=0, microsecond=0).astimezone(tz)
