"""`log` a meeting that took place and book the `next` one (engine layer)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from conversations.durations import split_duration
from conversations.grammar import Command, MAX_TEXT, small_number
from conversations.ics import invite
from conversations.messages import ActionInvoked, Button, Form, FormField, Message
from conversations.programme import end_moment, meetings_agreed_by, start_moment
from conversations.turn import Refusal, Turn
from conversations.when import When, split_when
from storage import meetings
from storage.outbox import Proposal, propose

MAX_MINUTES = 8 * 60
LOG_BUTTON = "open_log"
NEXT_BUTTON = "open_next"


def log(turn: Turn, command: Command) -> None:
    role = turn.pair_role()
    if not command.args:
        raise Refusal("meetings/log_usage")
    parsed = _split_when(turn, command.args, prefer="past", default_time=time(12, 0))
    if parsed is None:
        raise Refusal("errors/date_unclear", said=_first_words(command.args), verb="log")
    when, rest = parsed
    duration = split_duration(rest)
    if duration is None:
        raise Refusal("meetings/duration_missing", when=when.at, has_time=when.has_time)
    minutes, note = duration
    record(turn, role, when, minutes, note)


def record(turn: Turn, role, when: When, minutes: int, note: str) -> None:
    """Check and store one meeting; shared by the `log` command and the log form."""
    if when.at > turn.now + timedelta(minutes=10):
        raise Refusal("errors/date_future", when=when.at.astimezone(turn.tz))
    if when.at < start_moment(role.programme):
        raise Refusal("errors/date_before_start", starts=role.programme.starts)
    if not 0 < minutes <= MAX_MINUTES:
        raise Refusal("errors/duration_range", minutes=minutes)
    note = note.strip()
    if len(note) > MAX_TEXT:
        raise Refusal("errors/note_too_long", length=len(note), limit=MAX_TEXT)
    earlier = meetings.same_meeting(turn.session, role.pair.id, when.at)
    if earlier is not None:
        raise Refusal("meetings/already_logged", when=earlier.held_at.astimezone(turn.tz))
    meetings.add_meeting(turn.session, pair_id=role.pair.id, person_id=turn.person.id,
                         held_at=when.at, minutes=minutes, note=note, now=turn.now)
    held = meetings.meeting_count(turn.session, role.pair.id)
    booked = meetings.next_appointment(turn.session, role.pair.id)
    buttons = () if booked else (Button(turn.text("buttons/schedule_next"), NEXT_BUTTON),)
    turn.say("meetings/logged", when=when.at.astimezone(turn.tz), has_time=when.has_time,
             minutes=minutes, note=note, held=held,
             agreed=meetings_agreed_by(role.programme, turn.now), booked=booked is not None,
             buttons=buttons)


def next_meeting(turn: Turn, command: Command) -> None:
    role = turn.pair_role()
    if not command.args:
        booked = meetings.next_appointment(turn.session, role.pair.id)
        raise Refusal("meetings/next_usage",
                      booked=booked.at.astimezone(turn.tz) if booked else None)
    parsed = _split_when(turn, command.args, prefer="future")
    if parsed is None:
        raise Refusal("errors/date_unclear", said=_first_words(command.args), verb="next")
    when, _ = parsed
    if not when.has_time:
        raise Refusal("meetings/next_needs_time", day=when.at)
    book(turn, role, when.at)


def book(turn: Turn, role, at: datetime) -> None:
    """Check and store the next meeting, tell the partners; shared by `next` and its form."""
    if at <= turn.now:
        raise Refusal("errors/date_past", when=at.astimezone(turn.tz))
    if at > end_moment(role.programme) + timedelta(days=60):
        raise Refusal("errors/date_after_end", ends=role.programme.ends,
                      ended=turn.now > end_moment(role.programme))
    appointment = meetings.book(turn.session, pair_id=role.pair.id, person_id=turn.person.id,
                                at=at, now=turn.now)
    partners = turn.partners(role)
    propose(turn.session, [
        Proposal(key=f"booked:{appointment.id}:{partner.id}", person_id=partner.id,
                 programme_id=role.programme.id, pair_id=role.pair.id, kind="meeting_booked",
                 due_at=turn.now, stale_after=at, priority=1,
                 payload={"appointment_id": appointment.id, "by": turn.person.id})
        for partner, _ in partners
    ])
    ics = invite(uid=f"appointment-{appointment.id}", at=at, minutes=60,
                 title=turn.text("meetings/ics_title",
                                 names=", ".join(p.name for p, _ in partners)))
    message = turn.say("meetings/booked", when=at.astimezone(turn.tz),
                       names=[p.name for p, _ in partners], role=role.name,
                       mentees=[p.name.split()[0] for p, r in partners if r == "mentee"])
    turn.replies[-1] = Message(message.text, attachment=("mentoring.ics", "text/calendar", ics))


def open_log_form(turn: Turn, event: ActionInvoked) -> None:
    turn.pair_role()
    today = turn.local_now.date().isoformat()
    turn.say("meetings/log_form_intro", form=Form(
        title=turn.text("forms/log_title"), action_id="log_submit",
        submit_label=turn.text("forms/log_submit"), fields=(
            FormField("date", turn.text("forms/date"), "date", initial=today,
                      error=turn.text("forms/date_needed")),
            FormField("time", turn.text("forms/time"), "time", initial="12:00",
                      error=turn.text("forms/time_needed")),
            FormField("minutes", turn.text("forms/minutes"), "number", initial="60",
                      error=turn.text("forms/minutes_needed")),
            FormField("note", turn.text("forms/note"), "multiline", required=False),
        )))


def submit_log_form(turn: Turn, event: ActionInvoked) -> None:
    role = turn.pair_role()
    when = _form_moment(turn, event.values)
    minutes = event.values.get("minutes", "").strip()
    if small_number(minutes) is None:
        raise Refusal("errors/duration_range", minutes=minutes[:10] or 0)
    record(turn, role, when, small_number(minutes), event.values.get("note", ""))


def open_next_form(turn: Turn, event: ActionInvoked) -> None:
    turn.pair_role()
    suggestion = (turn.local_now + timedelta(weeks=2)).date().isoformat()
    turn.say("meetings/next_form_intro", form=Form(
        title=turn.text("forms/next_title"), action_id="next_submit",
        submit_label=turn.text("forms/next_submit"), fields=(
            FormField("date", turn.text("forms/date"), "date", initial=suggestion,
                      error=turn.text("forms/date_needed")),
            FormField("time", turn.text("forms/time"), "time", initial="10:00",
                      error=turn.text("forms/time_needed")),
        )))


def submit_next_form(turn: Turn, event: ActionInvoked) -> None:
    role = turn.pair_role()
    book(turn, role, _form_moment(turn, event.values).at)


def _form_moment(turn: Turn, values: dict[str, str]) -> When:
    try:
        day = date.fromisoformat(values.get("date", "").strip())
        clock = time.fromisoformat(values.get("time", "").strip() or "12:00")
    except ValueError:
        raise Refusal("errors/form_date_invalid") from None
    return When(datetime.combine(day, clock.replace(second=0, microsecond=0), turn.tz), True)


def _split_when(turn: Turn, text: str, **options):
    """The person's own language first, then English: many Danish workplaces write English
    (`log yesterday 14:00 45m` from a Danish participant is understood)."""
    for lang in dict.fromkeys((turn.lang, "en")):
        parsed = split_when(text, now=turn.now, tz=turn.tz, lang=lang, **options)
        if parsed is not None:
            return parsed
    return None


def _first_words(text: str) -> str:
    return " ".join(text.split()[:4])[:60]


def did_meet(turn: Turn, event: ActionInvoked) -> None:
    """The one-tap answers to "did you meet?": yes logs it, moved asks for the new time."""
    answer, _, raw_id = event.value.partition(":")
    number = small_number(raw_id)
    role = turn.pair_role() if number is None else _role_for_appointment(turn, number)
    appointment = meetings.appointment(turn.session, number) if number is not None else None
    if appointment is None or appointment.pair_id != role.pair.id:
        raise Refusal("errors/stale_button")
    if appointment.status != "scheduled":
        raise Refusal("meetings/already_answered")
    if answer == "yes":
        record(turn, role, When(appointment.at.astimezone(turn.tz), True), 60, "")
    elif answer == "moved":
        meetings.set_appointment_status(turn.session, appointment.id, "moved", turn.now)
        open_next_form(turn, event)
    else:
        turn.say("meetings/not_yet", buttons=(Button(turn.text("buttons/schedule_next"), NEXT_BUTTON),))


def _role_for_appointment(turn: Turn, appointment_id: int):
    appointment = meetings.appointment(turn.session, appointment_id)
    for role in turn.roles:
        if role.pair is not None and appointment is not None and role.pair.id == appointment.pair_id:
            return role
    raise Refusal("errors/stale_button")
