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


def _periods_back(moment: datetime, zone: str, settings: Settings):
    """Working periods (start, end) in `zone`, from the one around `moment` backwards."""
    tz = ZoneInfo(zone)
    day = moment.astimezone(tz).date()
    for _ in range(15):
        if day.weekday() in settings.work_days:
            yield (datetime.combine(day, settings.work_start, tz),
                   datetime.combine(day, settings.work_end, tz))
        day -= timedelta(days=1)


def last_working_moment(target: datetime, zone: str, settings: Settings) -> datetime:
    """`target` itself if it falls in working hours, else an hour before the end of the last
    working period before it: scheduling backwards, so a prompt is early rather than late."""
    for start, end in _periods_back(target, zone, settings):
        if start <= target < end:
            return target
        if end <= target:
            return max(start, end - timedelta(hours=1)).astimezone(target.tzinfo)
    return target


def previous_working_day_at(moment: datetime, zone: str, settings: Settings) -> datetime:
    """On the recipient's last working day before `moment`'s local day, at the same clock time
    kept inside working hours (the "day before" of a Monday meeting is the Friday)."""
    tz = ZoneInfo(zone)
    local = moment.astimezone(tz)
    latest = (datetime.combine(local.date(), settings.work_end) - timedelta(hours=1)).time()
    clock = min(max(local.time().replace(second=0, microsecond=0), settings.work_start),
                max(latest, settings.work_start))
    day = local.date() - timedelta(days=1)
    for _ in range(15):
        if day.weekday() in settings.work_days:
            return datetime.combine(day, clock, tz).astimezone(moment.tzinfo)
        day -= timedelta(days=1)
    return moment - timedelta(days=1)


def working_time_between(start: datetime, end: datetime, zone: str,
                         settings: Settings) -> timedelta:
    total = timedelta()
    for period_start, period_end in _periods_back(end, zone, settings):
        if period_end <= start:
            break
        overlap = min(period_end, end) - max(period_start, start)
        if overlap > timedelta():
            total += overlap
    return total


def half_working_day(settings: Settings) -> timedelta:
    day = datetime.combine(datetime.min.date(), settings.work_end) \
        - datetime.combine(datetime.min.date(), settings.work_start)
    return day / 2


def relay_moment(now: datetime, zone: str, settings: Settings,
                 meeting_at: datetime | None = None) -> datetime:
    """When a message relaying someone's action may reach this person: now in their working
    hours, else at their next working moment, unless the meeting itself comes before that."""
    working = next_working_moment(now, zone, settings)
    if working == now or (meeting_at is not None and meeting_at <= working):
        return now
    return working
