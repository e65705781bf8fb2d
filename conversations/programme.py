"""A programme's settings with their defaults, and where in its life a programme is."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from storage.tables import Programme

PHASES = ((0.0, "start"), (0.2, "run_in"), (0.4, "middle"), (0.6, "deepening"), (0.85, "closing"))


class SettingsInvalid(ValueError):
    """A programme's stored `[timeline]` does not check out. The import refuses such a file, so
    only a hand-edited database gets here; the tick and the outbox set that programme's pairs
    aside and carry on with everyone else."""


@dataclass(frozen=True)
class SettingProblem:
    """Why one `[timeline]` setting is refused; `code` picks the sentence in the template."""

    name: str
    code: str  # unknown | table | hours | days | whole | factor
    given: str = ""
    low: int | float = 0
    high: int | float = 0


# Whole-number settings and their ranges (inclusive). 0 switches pulses off.
WHOLE_SETTINGS = {"weekly_cap": (1, 20), "agenda_days_before": (0, 14),
                  "pulse_first_days": (0, 365), "pulse_every_days": (0, 365),
                  "post_checkin_weeks": (0, 52), "stale_days": (1, 60), "min_group": (1, 1000)}
DROOP_FACTOR = (1.0, 10.0)  # above 1, at most 10
TIMELINE_SETTINGS = ("working_hours", "working_days", *WHOLE_SETTINGS, "droop_factor")


def check_timeline(raw: object) -> tuple[dict, list[SettingProblem]]:
    """A programme's `[timeline]` table → the Settings values it sets, and what is wrong with it.

    The one reading of these settings: the import refuses a file with problems, and
    `Settings.of` refuses a stored value that does not check out."""
    if not isinstance(raw, dict):
        return {}, [SettingProblem("timeline", "table", _shown(raw))]
    values: dict = {}
    problems: list[SettingProblem] = []
    for name, value in raw.items():
        if name not in TIMELINE_SETTINGS:
            problems.append(SettingProblem(str(name)[:60], "unknown"))
        elif name == "working_hours":
            hours = _working_hours(value)
            if hours is None:
                problems.append(SettingProblem(name, "hours", _shown(value)))
            else:
                values["work_start"], values["work_end"] = hours
        elif name == "working_days":
            days = value if isinstance(value, list) else []
            if days and all(_whole(d) and 1 <= d <= 7 for d in days) \
                    and len(set(days)) == len(days):
                values["work_days"] = tuple(sorted(d - 1 for d in days))
            else:
                problems.append(SettingProblem(name, "days", _shown(value)))
        elif name == "droop_factor":
            low, high = DROOP_FACTOR
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    and low < value <= high):
                problems.append(SettingProblem(name, "factor", _shown(value), low, high))
            else:
                values[name] = float(value)
        else:
            low, high = WHOLE_SETTINGS[name]
            if not (_whole(value) and low <= value <= high):
                problems.append(SettingProblem(name, "whole", _shown(value), low, high))
            else:  # a minimum group is never below three, whatever the file says
                values[name] = max(3, value) if name == "min_group" else value
    return values, problems


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _working_hours(value: object) -> tuple[time, time] | None:
    """"09:00-17:00" → (09:00, 17:00); None unless both are times and the day starts first."""
    if not isinstance(value, str) or value.count("-") != 1:
        return None
    try:
        start, end = (time.fromisoformat(part.strip()) for part in value.split("-"))
    except ValueError:
        return None
    if start.tzinfo or end.tzinfo or not start < end:
        return None
    return start, end


def _shown(value: object) -> str:
    """The value as the file wrote it, cut short (it goes into a message, never a log)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = f'"{value}"'
    else:
        text = str(value)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 40 else text[:39] + "…"


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
        """Raises SettingsInvalid (naming the settings, not their values) when a stored
        setting does not check out. A name it does not know is only refused at import: stored
        before that check, it changes nothing, so it stops nothing."""
        try:
            stored = json.loads(programme.settings_json or "{}")
        except ValueError:
            raise SettingsInvalid(f"programme {programme.id}: settings are not JSON") from None
        values, problems = check_timeline(stored.get("timeline", {})
                                          if isinstance(stored, dict) else None)
        problems = [p for p in problems if p.code != "unknown"]
        if problems:
            names = ", ".join(sorted({p.name for p in problems}))
            raise SettingsInvalid(f"programme {programme.id}: [timeline] {names} refused")
        return cls(**values)


def start_moment(programme: Programme) -> datetime:
    return datetime.combine(programme.starts, time(0, 0), ZoneInfo(programme.timezone))


def end_moment(programme: Programme) -> datetime:
    return datetime.combine(programme.ends, time(23, 59), ZoneInfo(programme.timezone))


EVALUATION_BEFORE_END = timedelta(days=14)


def evaluation_opens(programme: Programme) -> datetime:
    """The final phase's evaluation opens two weeks before the formal end, at 09:00 local."""
    day = (end_moment(programme) - EVALUATION_BEFORE_END).date()
    return datetime.combine(day, time(9, 0), ZoneInfo(programme.timezone))


def evaluation_closes(programme: Programme) -> datetime:
    """The end of the evaluation window (it opens two weeks before the formal end): two weeks
    after the end, the results are published to the manager, once."""
    return end_moment(programme) + timedelta(weeks=2)


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


def meetings_agreed_by(programme: Programme, now: datetime,
                       started_at: datetime | None = None) -> int:
    """Meetings the cadence promises by now: one at the start and one per cadence period since.
    A pair that joined late (`started_at`, Pair.started_at) counts from when it joined."""
    start = start_moment(programme)
    if started_at is not None and started_at > start:
        start = started_at
    if now < start:
        return 0
    until = min(now, end_moment(programme))
    weeks = (until - start).days // 7
    return 1 + weeks // programme.cadence_weeks


def meetings_agreed_total(programme: Programme, started_at: datetime | None = None) -> int:
    return meetings_agreed_by(programme, end_moment(programme), started_at)


def local_day(moment: datetime, zone: str) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def weeks(n: float) -> timedelta:
    return timedelta(weeks=n)
