"""Pair health, and programme health as the manager sees it (engine layer).

`classify` is the one rule that says whether a pair is *meeting*, *drooping*, *silent* or
*ended*. It works on plain data (`Signs`) and the time, so the timeline (when to nudge a pair and
flag it to the manager), the chat `report`, the command line and the HTML/CSV report all ask the
same question and can never disagree. Storage only supplies the facts (`storage/report.py`).

`programme_report` also decides which other rules apply (phase, agreed meetings, minimum group
size, droop factor, which evaluation questions exist), so every view shows the same figures.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from conversations.dialogs.forms import EVALUATION_LIKERT, EVALUATION_OPEN
from conversations.programme import (Settings, end_moment, evaluation_closes,
                                     meetings_agreed_by, meetings_agreed_total, phase,
                                     start_moment)
from storage import meetings, report
from storage.tables import Programme

STATUSES = ("meeting", "drooping", "silent")  # while the programme runs; then "ended"
SILENT_FACTOR = 3
FLAG_WINDOW = timedelta(weeks=6)  # a droop flag this recent keeps a pair "drooping"
MENTEES_PER_MENTOR = 5  # group mentoring practice: at most five mentees per mentor


def too_large(mentors: int, mentees: int) -> bool:
    """A group with more mentees per mentor than practice advises (the manager is told)."""
    return mentees > MENTEES_PER_MENTOR * max(mentors, 1)


@dataclass(frozen=True)
class Signs:
    """What pair health is judged on: dates only, never what anyone wrote."""

    began: datetime  # the programme's start, or when the pair joined if later
    ends: datetime  # the programme's formal end
    cadence_weeks: int
    droop_factor: float = 1.5
    last_met: datetime | None = None  # the latest meeting held, None: never met
    last_flag: datetime | None = None  # when a droop flag last reached a manager
    nudged: tuple[tuple[int, datetime], ...] = ()  # (member, when) of the bot's nudges to meet

    @property
    def quiet_since(self) -> datetime:
        """The last meeting, or the pair's start when it never met."""
        return self.last_met or self.began

    @property
    def droop_after(self) -> timedelta:
        return timedelta(weeks=self.cadence_weeks * max(self.droop_factor, 1.0))

    @property
    def silent_after(self) -> timedelta:
        """Three cadences without a meeting; a pair that never met is silent once drooping."""
        if self.last_met is None:
            return self.droop_after
        return timedelta(weeks=self.cadence_weeks * SILENT_FACTOR)

    @property
    def drooping_from(self) -> datetime:
        return self.quiet_since + self.droop_after

    @property
    def silent_from(self) -> datetime:
        return self.quiet_since + self.silent_after


@dataclass(frozen=True)
class Health:
    status: str  # "meeting", "drooping", "silent" or "ended"
    met: bool  # the pair has met at least once
    weeks_quiet: int  # whole weeks since the last meeting (or the start)
    flagged: bool  # a droop flag reached a manager recently, with no meeting since
    nudges: int = 0  # nudges to meet since the last meeting (or the start), unanswered so far


def classify(signs: Signs, now: datetime) -> Health:
    """The pair's health at `now`.

    With C the cadence in weeks and F the droop factor (1.5 unless the programme changes it):
    **ended** after the programme's formal end; **silent** after more than 3 × C weeks without
    a meeting, or never met F × C weeks after it began; **drooping** after F × C weeks without
    a meeting, or when a droop flag reached a manager in the last six weeks and the pair has not
    met since; **meeting** otherwise (including a young pair in its first F × C weeks).
    """
    flagged = (signs.last_flag is not None and now - FLAG_WINDOW <= signs.last_flag <= now
               and (signs.last_met is None or signs.last_met < signs.last_flag))
    weeks_quiet = max(0, (now - signs.quiet_since).days // 7)
    met = signs.last_met is not None
    if now > signs.ends:
        return Health("ended", met, weeks_quiet, False)
    nudges = unanswered_nudges(signs, now)
    if now >= signs.silent_from:
        status = "silent"
    elif now >= signs.drooping_from or flagged:
        status = "drooping"
    else:
        status = "meeting"
    return Health(status, met, weeks_quiet, flagged, nudges)


def unanswered_nudges(signs: Signs, now: datetime) -> int:
    """The most nudges to meet any one member got since the pair last met (or began)."""
    per_member = Counter(member for member, at in signs.nudged
                         if signs.quiet_since < at <= now)
    return max(per_member.values(), default=0)


def signs_for(programme: Programme, *, started_at: datetime | None, last_met: datetime | None,
              last_flag: datetime | None = None,
              nudged: tuple[tuple[int, datetime], ...] = ()) -> Signs:
    start = start_moment(programme)
    began = max(start, started_at) if started_at else start
    return Signs(began=began, ends=end_moment(programme), cadence_weeks=programme.cadence_weeks,
                 droop_factor=Settings.of(programme).droop_factor, last_met=last_met,
                 last_flag=last_flag, nudged=tuple(nudged))


def pair_health(session, programme: Programme, pair, now: datetime) -> Health:
    """One pair's health from the stored facts at `now` (a flag composed at send time)."""
    last = meetings.last_meeting(session, pair.id)
    last_met = last.held_at if last and last.held_at <= now else None
    if last_met is not None and last_met.tzinfo is None:
        last_met = last_met.replace(tzinfo=UTC)
    nudged = report.nudges_sent(session, [pair.id], now).get(pair.id, ())
    started = pair.started_at
    if started is not None and started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return classify(signs_for(programme, started_at=started, last_met=last_met,
                              nudged=tuple(nudged)), now)


def programme_report(session, programme: Programme, now: datetime) -> report.Report:
    settings = Settings.of(programme)
    rules = report.Rules(phase=phase(programme, now), agreed=meetings_agreed_by(programme, now),
                         agreed_total=meetings_agreed_total(programme),
                         min_group=settings.min_group, droop_factor=settings.droop_factor,
                         likert=EVALUATION_LIKERT, open_questions=EVALUATION_OPEN,
                         statuses=STATUSES,
                         evaluation_closes=evaluation_closes(programme),
                         mentees_per_mentor=MENTEES_PER_MENTOR)
    as_of = min(now, end_moment(programme))  # after the end: the state each pair ended in
    pairs = []
    for record in report.pair_records(session, programme, now):
        health = classify(signs_for(programme, started_at=record.started_at,
                                    last_met=record.last_met, last_flag=record.last_flag,
                                    nudged=record.nudged), as_of)
        pairs.append(report.PairHealth(record.key, health.status, record.held, rules.agreed,
                                       report.local_date(record.last_met, programme.timezone),
                                       health.flagged, names=record.names,
                                       weeks_quiet=health.weeks_quiet, nudges=health.nudges,
                                       mentors=record.mentors, mentees=record.mentees,
                                       too_large=too_large(record.mentors, record.mentees)))
    return report.build(session, programme, now, rules, pairs)


def summary_values(health: report.Report) -> dict:
    """The short version (chat `report`, `app.py report` without files), as template values."""
    month = health.this_month
    troubled = [p for p in health.pairs if p.status in ("drooping", "silent")]
    troubled.sort(key=lambda p: (p.status != "silent", -p.weeks_quiet, p.key))
    return dict(programme=health.programme.name, slug=health.programme.slug,
                phase=health.phase, ends=health.programme.ends, pairs=len(health.pairs),
                counts=health.counts, held=health.held, agreed=health.agreed,
                month_held=month.held if month else 0,
                month_promised=round(month.promised) if month else 0,
                cadence=health.programme.cadence_weeks,
                unreachable=len(health.unreachable),
                evaluation_published=health.evaluation_published,
                evaluation_closes=health.evaluation_closes.astimezone(
                    ZoneInfo(health.programme.timezone)).date()
                if health.evaluation_closes else None,
                min_group=health.min_group,
                mentors_answered=health.respondents.get("mentor", 0),
                mentees_answered=health.respondents.get("mentee", 0),
                troubled=[dict(key=p.key, status=p.status, names=list(p.names),
                               weeks=p.weeks_quiet, met=p.last_met is not None,
                               flagged=p.flagged, nudges=p.nudges) for p in troubled],
                large=[dict(key=p.key, names=list(p.names), mentors=p.mentors,
                            mentees=p.mentees) for p in health.pairs if p.too_large],
                per_mentor=MENTEES_PER_MENTOR)
