"""The programme's rhythm as a pure function: given a pair's facts and now, what is due.

No I/O and no clock: `plan(facts, now)` returns every step whose time has come (the outbox
ignores keys it already holds) and when the pair needs looking at again. Each step's key
names the prompt and its occurrence, so a prompt can be proposed any number of times and is
still sent once.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.catalog import KINDS
from conversations.health import classify, signs_for
from conversations.programme import (Settings, end_moment, evaluation_opens, progress,
                                     start_moment)
from conversations.working_hours import (
    half_working_day,
    last_working_moment,
    previous_working_day_at,
    working_time_between,
)
from storage.timeline_facts import Booking, PairFacts

RECHECK = timedelta(days=7)
LAPSED = timedelta(days=7)
MIDPOINT_SETS = (1, 2)


@dataclass(frozen=True)
class Step:
    key: str
    person_id: int
    kind: str
    due_at: datetime
    payload: dict = field(default_factory=dict)
    optional: bool = False
    expires: datetime | None = None  # e.g. the meeting's start, for a prompt preparing it

    @property
    def stale_after(self) -> datetime:
        stale = self.due_at + KINDS[self.kind].stale_after
        return min(stale, self.expires) if self.expires else stale


@dataclass
class Plan:
    due: list[Step]
    next_check: datetime | None


def plan(facts: PairFacts, now: datetime) -> Plan:
    candidates = list(_candidates(facts, now))
    due = [s for s in candidates if s.due_at <= now]
    future = [s.due_at for s in candidates if s.due_at > now]
    post_end = end_moment(facts.programme) + timedelta(weeks=Settings.of(facts.programme)
                                                       .post_checkin_weeks + 1)
    if now > post_end:
        return Plan(due, None)
    next_check = min([*future, now + RECHECK])
    return Plan(due, next_check)


def _candidates(f: PairFacts, now: datetime):
    settings = Settings.of(f.programme)
    start = _morning(start_moment(f.programme), f.programme.timezone)
    if f.started_at and start < f.started_at <= now:  # a pair that joined late starts late
        start = f.started_at
    end = end_moment(f.programme)
    if lapsed(f, now):
        f = replace(f, appointment=None)  # not held, not answered: the tick marks it missed
    mentees = [m for m in f.members if m.role == "mentee"]
    mentors = [m for m in f.members if m.role == "mentor"]
    everyone = mentees + mentors
    pid = f.pair_id

    for m in everyone:
        yield Step(f"kickoff:{pid}:{m.person_id}", m.person_id, "kickoff", start)
    if not f.meetings:
        for m in mentees:
            yield Step(f"line_manager:{pid}:{m.person_id}", m.person_id, "line_manager",
                       start + timedelta(days=1))
    yield from _first_meeting(f, settings, start, everyone)
    yield from _meeting_nudges(f, settings, start, end, now, everyone)
    yield from _appointment_steps(f, settings, now, mentees, mentors, everyone)
    yield from _pulses(f, settings, start, end, everyone)
    yield from _reflections(f, everyone)
    yield from _midpoint(f, settings, everyone)
    yield from _droop(f, settings, start, end, now, everyone)
    yield from _ending(f, settings, end, everyone, mentees)


def _morning(moment: datetime, zone: str) -> datetime:
    local = moment.astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(9, 0), ZoneInfo(zone))


def _first_meeting(f: PairFacts, s: Settings, start: datetime, everyone):
    if f.meetings or f.appointment:
        return
    for days in s.first_meeting_chase_days:
        for m in everyone:
            yield Step(f"first_chase:{f.pair_id}:{days}:{m.person_id}", m.person_id,
                       "first_meeting_chase", start + timedelta(days=days), {"days": days})


def _meeting_nudges(f: PairFacts, s: Settings, start, end, now, everyone):
    """With nothing booked: a week after the last meeting, and again when the cadence is due."""
    if f.appointment or not f.meetings:
        return
    meeting_id, held, logged = f.meetings[-1]
    anchor = max(held, logged)
    cadence = timedelta(weeks=f.programme.cadence_weeks)
    closing = _closing_at(f, end)  # from then on the closing message says what to do
    for n, due in ((1, anchor + timedelta(days=7)), (2, held + cadence - timedelta(days=3))):
        if due < closing and (n == 1 or due > anchor + timedelta(days=7)):
            for m in everyone:
                yield Step(f"nudge:{f.pair_id}:{meeting_id}:{n}:{m.person_id}", m.person_id,
                           "meeting_nudge", due, {"round": n})


def lapsed(f: PairFacts, now: datetime) -> bool:
    """The booked meeting is a week past and nobody said it was held: it was missed."""
    return f.appointment is not None and f.appointment[1] < now - LAPSED


def agenda_reminder_at(at: datetime, zone: str, s: Settings) -> datetime:
    """`agenda_days_before` days before the meeting, moved back (never forward) to a working
    moment of the mentee: Friday for a Monday meeting."""
    return last_working_moment(at - timedelta(days=s.agenda_days_before), zone, s)


def agenda_followup_at(at: datetime, reminder: datetime, zone: str,
                       s: Settings) -> datetime | None:
    """A day before, on another working day than the reminder, and at least half a working
    day before the meeting; otherwise no follow-up at all."""
    followup = last_working_moment(at - timedelta(days=1), zone, s)
    tz = ZoneInfo(zone)
    if followup.astimezone(tz).date() <= reminder.astimezone(tz).date():
        return None
    if working_time_between(followup, at, zone, s) < half_working_day(s):
        return None
    return followup


def _same_day(a: datetime, b: datetime, zone: str) -> bool:
    tz = ZoneInfo(zone)
    return a.astimezone(tz).date() == b.astimezone(tz).date()


def _appointment_steps(f: PairFacts, s: Settings, now: datetime, mentees, mentors, everyone):
    """Counted backwards from the meeting in each reader's working calendar. A mentee hears of
    the meeting once a day at most: the agenda request names the meeting (and the partners),
    so a day-before reminder the same day is left out while the agenda is missing or the
    request went out already."""
    if not f.appointment:
        return
    booking = Booking(*f.appointment)
    at, booked = booking.at, booking.booked
    occurrence = f"{booking.id}:{booking.sequence}"
    payload = {"appointment_id": booking.id, "sequence": booking.sequence, "at": at.isoformat()}
    day_before = {m.person_id: previous_working_day_at(at, m.timezone, s) for m in everyone}
    reminded = {pid for pid, moment in day_before.items()
                if moment > booked + timedelta(hours=2)}  # not right after booking it
    asked = {m.person_id: moment for m in mentees
             if (moment := agenda_reminder_at(at, m.timezone, s)) > booked}
    for m in mentees:
        if m.person_id in asked and m.person_id in reminded \
                and _same_day(asked[m.person_id], day_before[m.person_id], m.timezone) \
                and (not f.agenda_sent or now >= asked[m.person_id]):
            reminded.discard(m.person_id)
    if not f.agenda_sent:
        for m in mentees:
            reminder = agenda_reminder_at(at, m.timezone, s)
            if m.person_id in asked:  # booked later than that: the booking reply asked for it
                yield Step(f"agenda_reminder:{occurrence}:{m.person_id}", m.person_id,
                           "agenda_reminder", reminder, payload, expires=at)
            followup = agenda_followup_at(at, reminder, m.timezone, s)
            if followup is not None and followup > booked + timedelta(hours=2) and not (
                    m.person_id in reminded
                    and _same_day(followup, day_before[m.person_id], m.timezone)):
                yield Step(f"agenda_followup:{occurrence}:{m.person_id}", m.person_id,
                           "agenda_reminder", followup, {**payload, "followup": True},
                           expires=at - half_working_day(s))
    for m in everyone:
        if m.person_id in reminded:
            # The mentee's day-before reminder also asks for a missing agenda.
            yield Step(f"reminder:{occurrence}:{m.person_id}", m.person_id, "meeting_reminder",
                       day_before[m.person_id], payload, optional=True, expires=at)
    for m in mentees:
        yield Step(f"did_meet:{occurrence}:{m.person_id}", m.person_id, "did_you_meet",
                   at + timedelta(hours=2), payload)
    for m in mentors:
        yield Step(f"did_meet:{occurrence}:{m.person_id}", m.person_id, "did_you_meet",
                   at + timedelta(days=3), payload)


def _pulses(f: PairFacts, s: Settings, start, end, everyone):
    if s.pulse_every_days <= 0:
        return
    due, n = start + timedelta(days=s.pulse_first_days), 1
    while due < end - timedelta(days=21):
        for m in everyone:
            yield Step(f"pulse:{f.pair_id}:{n}:{m.person_id}", m.person_id, "pulse", due,
                       {"n": n}, optional=True)
        due, n = due + timedelta(days=s.pulse_every_days), n + 1


def _reflections(f: PairFacts, everyone):
    for meeting_id, held, logged in f.meetings[-3:]:
        due = max(held, logged) + timedelta(hours=1)
        for m in everyone:
            yield Step(f"reflection:{meeting_id}:{m.person_id}", m.person_id, "reflection", due,
                       {"meeting_id": meeting_id}, optional=True)


def _midpoint(f: PairFacts, s: Settings, everyone):
    start, end = start_moment(f.programme), end_moment(f.programme)
    span = end - start
    shares = (s.midpoint_from + 0.05, (s.midpoint_from + s.midpoint_to) / 2 + 0.05)
    for number, share in zip(MIDPOINT_SETS, shares):
        due = _morning(start + span * share, f.programme.timezone)
        for m in everyone:
            yield Step(f"droop_mid:{f.pair_id}:{number}:{m.person_id}", m.person_id, "droop",
                       due, {"reason": "midpoint", "set": number}, optional=True)


def _droop(f: PairFacts, s: Settings, start, end, now, everyone):
    """Droop from the data, judged by `health.classify`; the pair is nudged and the manager
    flagged, always with the why. While the pair stays quiet the manager hears again every
    cadence, with how long and how many nudges went unanswered; nothing after the end.
    The why is a kind of signal (no meeting for N weeks, ratings falling, pulse falling),
    never the ratings themselves: those are one person's answers, private to them."""
    last = f.meetings[-1][1] if f.meetings else None
    signs = signs_for(f.programme, started_at=f.started_at, last_met=last)
    if classify(signs, now).status == "ended":
        return
    anchor = f"m{f.meetings[-1][0]}" if f.meetings else "start"
    scheduled_soon = f.appointment is not None and f.appointment[1] > now - timedelta(days=2)
    cadence = timedelta(weeks=f.programme.cadence_weeks)
    due, n = max(signs.drooping_from, start), 0
    while due < end and not scheduled_soon:
        health = classify(signs, due)
        nudges = min(n, 1) + 1  # the pair is nudged twice at most; the manager keeps hearing
        payload = {"reason": "no_meeting", "weeks": max(1, health.weeks_quiet),
                   "cadence": f.programme.cadence_weeks, "met": health.met,
                   "status": health.status, "nudges": nudges, "repeat": n,
                   "since_meeting": f.meetings[-1][0] if f.meetings else 0}
        occurrence = f"nomeet:{anchor}" + (f":{n}" if n else "")
        yield from _droop_steps(f, everyone if n < 2 else [], occurrence, due, payload)
        if due > now:
            break  # the next one, for the next check
        due, n = due + cadence, n + 1
    if now > end:
        return
    if len(f.ratings) >= 3:
        (_, a), (_, b), (last_id, c) = f.ratings[-3:]
        if a > b > c and c <= 3:
            yield from _droop_steps(f, everyone, f"ratings:{last_id}", now,
                                    {"reason": "falling_ratings"})
    rounds = sorted(f.pulse)
    if len(rounds) >= 2:
        before, after = (sum(f.pulse[n]) / len(f.pulse[n]) for n in rounds[-2:])
        if before - after >= 1.0:
            yield from _droop_steps(f, everyone, f"pulse:{rounds[-1]}", now,
                                    {"reason": "falling_pulse"})


def _droop_steps(f: PairFacts, everyone, occurrence: str, due: datetime, payload: dict):
    for m in everyone:
        yield Step(f"droop:{f.pair_id}:{occurrence}:{m.person_id}", m.person_id, "droop", due,
                   payload)
    for manager in f.managers:
        yield Step(f"droop_flag:{f.pair_id}:{occurrence}:{manager}", manager, "droop_flag", due,
                   {**payload, "pair_key": f.key, "flag_pair": f.pair_id})


def _ending(f: PairFacts, s: Settings, end, everyone, mentees):
    evaluation = evaluation_opens(f.programme)
    for m in everyone:
        yield Step(f"evaluation:{f.pair_id}:{m.person_id}", m.person_id, "evaluation", evaluation)
        if m.person_id not in f.evaluation_done:
            yield Step(f"evaluation_reminder:{f.pair_id}:{m.person_id}", m.person_id,
                       "evaluation", evaluation + timedelta(days=7), {"reminder": True})
        yield Step(f"closing:{f.pair_id}:{m.person_id}", m.person_id, "closing",
                   _closing_at(f, end))
    for m in mentees:
        yield Step(f"post_checkin:{f.pair_id}:{m.person_id}", m.person_id, "post_checkin",
                   _morning(end + timedelta(weeks=s.post_checkin_weeks), f.programme.timezone),
                   optional=True)


def _closing_at(f: PairFacts, end: datetime) -> datetime:
    return _morning(end - timedelta(days=5), f.programme.timezone)


def progress_share(f: PairFacts, now: datetime) -> float:
    return progress(f.programme, now)
