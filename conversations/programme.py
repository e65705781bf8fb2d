"""A programme's settings with their defaults, and where in its life a programme is."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.tables import Programme

PHASES = ((0.0, "start"), (0.2, "run_in"), (0.4, "middle"), (0.6, "deepening"), (0.85, "closing"))


@dataclass(frozen=True)
class Settings:
    """What a programme can change in its TOML (`[timeline]` table); defaults from practice."""

    work_start: time = time(9, 0)
    work_end: time = time(17, 0)
    work_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    weekly_cap: int = 3
    agenda_days_before: int = 2
    first_meeting_chase_days: tuple[int, ...] = (3, 10)
    pulse_first_days: int = 30
    pulse_every_days: int = 60
    droop_factor: float = 1.5
    midpoint_from: float = 0.4
    midpoint_to: float = 0.6
    post_checkin_weeks: int = 6
    stale_days: int = 7
    min_group: int = 3

    @classmethod
    def of(cls, programme: Programme) -> "Settings":
        raw = json.loads(programme.settings_json or "{}").get("timeline", {})
        values = {}
        for key in ("weekly_cap", "agenda_days_before", "pulse_first_days", "pulse_every_days",
                    "post_checkin_weeks", "stale_days"):
            if isinstance(raw.get(key), int) and raw[key] >= 0:
                values[key] = raw[key]
        if isinstance(raw.get("droop_factor"), (int, float)) and raw["droop_factor"] > 1:
            values["droop_factor"] = float(raw["droop_factor"])
        if isinstance(raw.get("min_group"), int):
            values["min_group"] = max(3, raw["min_group"])
        hours = raw.get("working_hours")
        if isinstance(hours, str) and "-" in hours:
            start, end = (time.fromisoformat(p.strip()) for p in hours.split("-", 1))
            if start < end:
                values["work_start"], values["work_end"] = start, end
        days = raw.get("working_days")
        if isinstance(days, list) and days and all(isinstance(d, int) and 1 <= d <= 7 for d in days):
            values["work_days"] = tuple(sorted(d - 1 for d in days))
        return cls(**values)


def start_moment(programme: Programme) -> datetime:
    return datetime.combine(programme.starts, time(0, 0), ZoneInfo(programme.timezone))


def end_moment(programme: Programme) -> datetime:
    return datetime.combine(programme.ends, time(23, 59), ZoneInfo(programme.timezone))


def progress(programme: Programme, now: datetime) -> float:
    """0.0 at kick-off, 1.0 at the formal end date."""
    total = (end_moment(programme) - start_moment(programme)).total_seconds()
    done = (now - start_moment(programme)).total_seconds()
    return done / total if total > 0 else 1.0


def phase(programme: Programme, now: datetime) -> str:
    share = progress(programme, now)
    if share < 0:
        return "not_started"
    if share > 1:
        return "ended"
    return [name for threshold, name in PHASES if share >= threshold][-1]


def meetings_agreed_by(programme: Programme, now: datetime) -> int:
    """Meetings the cadence promises by now: one at the start and one per cadence period since."""
    if now < start_moment(programme):
        return 0
    until = min(now, end_moment(programme))
    weeks = (until - start_moment(programme)).days // 7
    return 1 + weeks // programme.cadence_weeks


def meetings_agreed_total(programme: Programme) -> int:
    return meetings_agreed_by(programme, end_moment(programme))


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def weeks(n: float) -> timedelta:
    return timedelta(weeks=n)
