"""`log` a meeting that took place and book the `next` one (engine layer)."""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from conversations.booking import Member, local_times, overlap_start, suggestions, suits_everyone
from conversations.durations import split_duration
from conversations.grammar import MAX_TEXT, Command, small_number
from conversations.ics import Attendee, invite
from conversations.messages import ActionInvoked, Button, Form, FormField, Message
from conversations.programme import Settings, end_moment, meetings_agreed_by, start_moment
from conversations.timeline import agenda_reminder_at
from conversations.turn import Refusal, Turn
from conversations.when import When, split_when
from conversations.working_hours import relay_moment
from storage import meetings
from storage.outbox import Proposal, propose, withdraw
from storage.tables import Appointment

MAX_MINUTES = 8 * 60
MAX_NOTE = 500
LOG_BUTTON = "open_log"
NEXT_BUTTON = "open_next"
BOOK_CHOICE = "book_choice"
KEEP_BUTTON = "keep_booking"
INVITE_NAME = "mentoring.ics"
CONFIRM_WORDS = {"anyway", "confirm", "alligevel", "bekræft", "bekraeft"}
PROPOSAL_LASTS = timedelta(days=14)  # a proposal no mentor booked lapses (the typed yes's reach)


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


def record(turn: Turn, role, when: When, minutes: int, note: str,
           appointment: Appointment | None = None) -> None:
    """Check and store one meeting; shared by the `log` command, the log form and "did you
    meet? yes". A log on the booked meeting's day is that meeting, held; a log of another day
    leaves the booking as it is."""
    if when.at > turn.now + timedelta(minutes=10):
        raise Refusal("errors/date_future", when=when.at.astimezone(turn.tz))
    if when.at < start_moment(role.programme):
        raise Refusal("errors/date_before_start", starts=role.programme.starts)
    if not 0 < minutes <= MAX_MINUTES:
        raise Refusal("errors/duration_range", minutes=minutes)
    note = note.strip()
    if len(note) > MAX_TEXT:
        raise Refusal("errors/note_too_long", length=len(note), limit=MAX_TEXT)
    earlier, held, booked = meetings.before_log(turn.session, role.pair.id, when.at)
    if earlier is not None:
        raise Refusal("meetings/already_logged", when=earlier.astimezone(turn.tz))
    if appointment is None and booked is not None and _same_day(booked.at, when.at, turn.tz):
        appointment = booked
    meetings.add_meeting(turn.session, pair_id=role.pair.id, person_id=turn.person.id,
                         held_at=when.at, minutes=minutes, note=note, now=turn.now,
                         appointment_id=appointment.id if appointment else None)
    held += 1
    if appointment is not None and booked is not None and appointment.id == booked.id:
        booked = meetings.next_appointment(turn.session, role.pair.id)  # that one is held now
    buttons = () if booked else (Button(turn.text("buttons/schedule_next"), NEXT_BUTTON),)
    turn.say("meetings/logged", when=when.at.astimezone(turn.tz), has_time=when.has_time,
             minutes=minutes, note=note, held=held,
             agreed=meetings_agreed_by(role.programme, turn.now, role.pair.started_at),
             booked=booked is not None,
             booked_at=booked.at.astimezone(turn.tz) if booked else None, buttons=buttons)


def _same_day(a: datetime, b: datetime, tz) -> bool:
    return a.astimezone(tz).date() == b.astimezone(tz).date()


def next_meeting(turn: Turn, command: Command) -> None:
    """`next friday 10:00` books; with a meeting already booked it asks whether to move it.
    `move friday 11:00` moves it straight away; a trailing "anyway" accepts a time outside
    someone's working hours or after the programme's end."""
    role = turn.pair_role()
    if not command.args:
        booked = meetings.next_appointment(turn.session, role.pair.id)
        raise Refusal("meetings/move_usage" if command.verb == "move" else "meetings/next_usage",
                      booked=booked.at.astimezone(turn.tz) if booked else None)
    parsed = _split_when(turn, command.args, prefer="future")
    if parsed is None:
        raise Refusal("errors/date_unclear", said=_first_words(command.args), verb="next")
    when, rest = parsed
    if not when.has_time:
        raise Refusal("meetings/next_needs_time", day=when.at, verb=command.said)
    confirmed = any(word.strip(".,!").lower() in CONFIRM_WORDS for word in rest.split())
    book(turn, role, when.at, move=command.verb == "move", confirmed=confirmed)


def book(turn: Turn, role, at: datetime, *, move: bool = False, confirmed: bool = False) -> None:
    """Check and store the next meeting, tell the partners; shared by `next`, `move`, the
    booking form and the confirmation buttons."""
    at = at.replace(second=0, microsecond=0)
    if at <= turn.now:
        raise Refusal("errors/date_past", when=at.astimezone(turn.tz))
    if at > _latest(role):
        raise Refusal("errors/date_after_end", ends=role.programme.ends,
                      ended=turn.now > end_moment(role.programme))
    booked = meetings.next_appointment(turn.session, role.pair.id)
    if booked is not None and booked.at == at:
        turn.say("meetings/same_time", when=at.astimezone(turn.tz))
        _attach_invite(turn, role, booked)
        return
    if booked is not None and booked.at > turn.now and not move:
        _ask(turn, role, at, booked, "meetings/move_ask")
        return
    if mentors_book(turn, role):
        _propose(turn, role, at, booked)
        return
    settings = Settings.of(role.programme)
    members = _members(turn, role)
    after_end = at > end_moment(role.programme)
    if not confirmed and (after_end or not suits_everyone(at, members, settings)):
        _ask(turn, role, at, booked, "meetings/confirm_time")  # booked: this would move it
        return
    if booked is not None:
        _move(turn, role, booked, at)
    else:
        _create(turn, role, at)


def mentors_book(turn: Turn, role) -> bool:
    """In a group the mentor(s) own the booking: a mentee's time is a proposal to them."""
    partners = turn.partners(role)
    return role.name == "mentee" and len(partners) > 1 and any(
        r == "mentor" for _, r in partners)


def _propose(turn: Turn, role, at: datetime, booked: Appointment | None) -> None:
    """Nothing is booked: each mentor is asked (in their working hours) to book that time,
    with a button or a typed yes; the group hears of it once a mentor books it."""
    mentors = [p for p, r in turn.partners(role) if r == "mentor"]
    value = _choice(role, at, booked, confirmed=False)
    settings = Settings.of(role.programme)
    proposals, arrivals = [], []
    for mentor in mentors:
        due = relay_moment(turn.now, mentor.timezone, settings, at)
        proposals.append(Proposal(
            key=f"proposed:{role.pair.id}:{at.astimezone(UTC):%Y%m%dT%H%MZ}:"
                f"{booked.sequence if booked else '-'}:{mentor.id}",
            person_id=mentor.id, programme_id=role.programme.id, pair_id=role.pair.id,
            kind="meeting_proposed", due_at=due, stale_after=max(at, due + timedelta(days=1)),
            priority=1, payload={"by": turn.person.id, "at": at.isoformat(), "choice": value,
                                 **({"from": booked.at.isoformat()} if booked else {})}))
        if due > turn.now:
            arrivals.append((mentor.name, due.astimezone(turn.tz)))
    proposals.append(_lapse_notice(turn, role, at, booked, settings))
    propose(turn.session, proposals)
    turn.say("meetings/proposed", when=at.astimezone(turn.tz),
             names=[m.name.split()[0] for m in mentors], arrivals=arrivals,
             before=booked.at.astimezone(turn.tz) if booked else None)


def _lapse_notice(turn: Turn, role, at: datetime, booked: Appointment | None,
                  settings: Settings) -> Proposal:
    """The mentee hears once, in their working hours, if no mentor booked their proposal
    (composing skips it when the booking changed since); a newer proposal replaces it."""
    withdraw(turn.session, turn.person.id, f"proposal_lapsed:{role.pair.id}:", "proposed again")
    due = relay_moment(min(turn.now + PROPOSAL_LASTS, at), turn.person.timezone, settings)
    return Proposal(
        key=f"proposal_lapsed:{role.pair.id}:{at.astimezone(UTC):%Y%m%dT%H%MZ}:"
            f"{booked.sequence if booked else '-'}:{turn.person.id}",
        person_id=turn.person.id, programme_id=role.programme.id, pair_id=role.pair.id,
        kind="proposal_lapsed", due_at=due, stale_after=due + timedelta(days=2), priority=2,
        payload={"at": at.isoformat(), "proposed_at": turn.now.isoformat(),
                 **({"from": booked.at.isoformat()} if booked else {})})


def _latest(role) -> datetime:
    return end_moment(role.programme) + timedelta(days=60)


def _members(turn: Turn, role) -> list[Member]:
    return [Member(turn.person.name, turn.person.timezone, True)] + [
        Member(p.name, p.timezone) for p, _ in turn.partners(role)]


def _ask(turn: Turn, role, at: datetime, booked: Appointment | None, template: str) -> None:
    """Nothing is stored: the reply shows what to check and offers the choices as buttons and
    as a line to type."""
    settings = Settings.of(role.programme)
    members = _members(turn, role)
    times = local_times(at, members, settings)
    moving = booked is not None
    value = _choice(role, at, booked, confirmed=template == "meetings/confirm_time")
    others = [] if template == "meetings/move_ask" else suggestions(
        at, members, settings, turn.now, min(_latest(role), end_moment(role.programme)),
        turn.person.timezone)
    buttons = [Button(turn.text("buttons/move_it" if moving and template == "meetings/move_ask"
                                else "buttons/book_anyway"), BOOK_CHOICE, value, "primary")]
    buttons += [Button(turn.text("buttons/book_at", when=o.astimezone(turn.tz)), BOOK_CHOICE,
                       _choice(role, o, booked, confirmed=False)) for o in others]
    if template == "meetings/move_ask":
        buttons.append(Button(turn.text("buttons/keep_it"), KEEP_BUTTON, str(booked.id)))
    local = at.astimezone(turn.tz)
    verb = turn.text("meetings/verb_move" if moving else "meetings/verb_next")
    turn.say(template, when=local, booked=booked.at.astimezone(turn.tz) if booked else None,
             times=times, outside=[t for t in times if not t.working],
             after_end=at > end_moment(role.programme), ends=role.programme.ends,
             typed=f"{verb} {local:%Y-%m-%d %H:%M}", others=bool(others),
             buttons=tuple(buttons))


def _choice(role, at: datetime, booked: Appointment | None, *, confirmed: bool) -> str:
    """A button's value: the pair, what to book, which booking it moves (and at which
    sequence, so an old button cannot move a meeting that changed since), and whether the
    time is confirmed."""
    moved = f"{booked.id}.{booked.sequence}" if booked is not None else "-"
    return (f"{role.pair.id}|{at.astimezone(UTC):%Y%m%dT%H%MZ}|{moved}|"
            f"{'y' if confirmed else 'n'}")


def book_choice(turn: Turn, event: ActionInvoked) -> None:
    """A button from a booking question: book or move to that time."""
    try:
        pair, moment, moved, confirmed = event.value.split("|")
        at = datetime.strptime(moment, "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
    except ValueError:
        raise Refusal("errors/stale_button") from None
    role = next((r for r in turn.roles if r.pair is not None and str(r.pair.id) == pair), None)
    if role is None:
        raise Refusal("errors/stale_button")
    booked = meetings.next_appointment(turn.session, role.pair.id)
    if moved != "-":
        if booked is None or moved != f"{booked.id}.{booked.sequence}":
            raise Refusal("errors/stale_button")
    elif booked is not None and booked.at > turn.now:
        raise Refusal("errors/stale_button")
    book(turn, role, at, move=moved != "-", confirmed=confirmed == "y")


def keep_booking(turn: Turn, event: ActionInvoked) -> None:
    number = small_number(event.value)
    booked = meetings.appointment(turn.session, number) if number is not None else None
    if booked is None or booked.status != "scheduled" or not any(
            r.pair is not None and r.pair.id == booked.pair_id for r in turn.roles):
        raise Refusal("errors/stale_button")
    turn.say("meetings/kept", when=booked.at.astimezone(turn.tz))


def _create(turn: Turn, role, at: datetime) -> None:
    appointment = meetings.book(turn.session, pair_id=role.pair.id, person_id=turn.person.id,
                                at=at, now=turn.now)
    partners = turn.partners(role)
    arrivals = _tell(turn, role, appointment, [
        (partner, f"booked:{appointment.id}:{partner.id}", "meeting_booked", {})
        for partner, _ in partners])
    turn.say("meetings/booked", when=at.astimezone(turn.tz), names=[p.name for p, _ in partners],
             role=role.name, mentees=[p.name.split()[0] for p, r in partners if r == "mentee"],
             arrivals=arrivals, ask_agenda=_agenda_due_now(turn, role, appointment))
    _attach_invite(turn, role, appointment)


def _move(turn: Turn, role, appointment: Appointment, at: datetime) -> None:
    before = meetings.move(turn.session, appointment, at, turn.now)
    told = []
    for partner, _ in turn.partners(role):
        if withdraw(turn.session, partner.id, f"booked:{appointment.id}:", "moved before sent",
                    keep=True):
            continue  # the booking itself has not reached them: it will show the new time
        earlier = withdraw(turn.session, partner.id, f"moved:{appointment.id}:",
                           "moved again before sent")
        known = min((p.get("from", before.isoformat()) for p in earlier), default=None)
        told.append((partner, f"moved:{appointment.id}:{appointment.sequence}:{partner.id}",
                     "meeting_moved", {"from": known or before.isoformat()}))
    arrivals = _tell(turn, role, appointment, told)
    turn.say("meetings/moved", before=before.astimezone(turn.tz), when=at.astimezone(turn.tz),
             names=[p.name for p, _ in turn.partners(role)], arrivals=arrivals,
             ask_agenda=_agenda_due_now(turn, role, appointment))
    _attach_invite(turn, role, appointment)


def cancel(turn: Turn, command: Command) -> None:
    """`cancel [a note for the partner]`: the booked meeting is off, the calendars are told."""
    role = turn.pair_role()
    booked = meetings.next_appointment(turn.session, role.pair.id)
    if booked is None:
        raise Refusal("meetings/cancel_nothing")
    note = command.full_args.strip()
    if len(note) > MAX_NOTE:
        raise Refusal("errors/note_too_long", length=len(note), limit=MAX_NOTE)
    if mentors_book(turn, role):
        _send_regrets(turn, role, booked, note)
        return
    meetings.cancel(turn.session, booked, turn.now)
    told = []
    for partner, _ in turn.partners(role):
        if withdraw(turn.session, partner.id, f"booked:{booked.id}:", "cancelled before sent"):
            continue  # they never heard of it; nothing to take back
        earlier = withdraw(turn.session, partner.id, f"moved:{booked.id}:",
                           "cancelled before sent")
        known = min((p.get("from", "") for p in earlier), default="")
        told.append((partner, f"cancelled:{booked.id}:{partner.id}", "meeting_cancelled",
                     {"note": note, "known": known}))
    arrivals = _tell(turn, role, booked, told)
    turn.say("meetings/cancelled", when=booked.at.astimezone(turn.tz),
             names=[p.name for p, _, _, _ in told], note=bool(note), arrivals=arrivals)
    _attach_invite(turn, role, booked)


def _send_regrets(turn: Turn, role, booked: Appointment, note: str) -> None:
    """A group mentee's cancel: they can't come, the meeting goes on for the others. The
    mentor(s) are told (with the note, as a cancellation would carry it); no calendar changes."""
    mentors = [p for p, r in turn.partners(role) if r == "mentor"]
    arrivals = _tell(turn, role, booked, [
        (mentor, f"regrets:{booked.id}:{booked.sequence}:{turn.person.id}:{mentor.id}",
         "meeting_regrets", {"note": note}) for mentor in mentors])
    turn.say("meetings/regrets_sent", when=booked.at.astimezone(turn.tz),
             names=[m.name.split()[0] for m in mentors], note=bool(note), arrivals=arrivals)


def _tell(turn: Turn, role, appointment: Appointment, told) -> list[tuple[str, datetime]]:
    """Relay a booking, move or cancellation; each partner gets it in their working hours
    unless the meeting comes first. Returns who gets it later, and when (speaker's time)."""
    settings = Settings.of(role.programme)
    proposals, arrivals = [], []
    for partner, key, kind, extra in told:
        due = relay_moment(turn.now, partner.timezone, settings, appointment.at)
        proposals.append(Proposal(
            key=key, person_id=partner.id, programme_id=role.programme.id, pair_id=role.pair.id,
            kind=kind, due_at=due, stale_after=max(appointment.at, due + timedelta(days=1)),
            priority=1, payload={"appointment_id": appointment.id, "by": turn.person.id,
                                 "sequence": appointment.sequence,
                                 "at": appointment.at.isoformat(), **extra}))
        if due > turn.now:
            arrivals.append((partner.name, due.astimezone(turn.tz)))
    propose(turn.session, proposals)
    return arrivals


def _agenda_due_now(turn: Turn, role, appointment: Appointment) -> bool:
    """Booked later than the agenda reminder would go out: the booking reply asks for it."""
    if role.name != "mentee" or meetings.agenda_for(turn.session, appointment.id) is not None:
        return False
    settings = Settings.of(role.programme)
    return agenda_reminder_at(appointment.at, turn.person.timezone, settings) <= turn.now


def _attach_invite(turn: Turn, role, appointment: Appointment) -> None:
    partners = turn.partners(role)
    people = [turn.person] + [p for p, _ in partners]
    ics = invite(uid=appointment.uid, sequence=appointment.sequence, at=appointment.at,
                 minutes=60, title=turn.text("meetings/ics_title",
                                             names=", ".join(p.name for p, _ in partners)),
                 organizer=turn.organizer, attendees=[Attendee(p.name, p.email) for p in people],
                 stamp=turn.now, cancelled=appointment.status == "cancelled")
    last = turn.replies[-1]
    turn.replies[-1] = Message(last.text, facts=last.facts, buttons=last.buttons,
                               attachment=(INVITE_NAME, "text/calendar", ics))


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
    """The booking form proposes a day two weeks on, at the first time that suits everyone."""
    role = turn.pair_role()
    day = turn.local_now + timedelta(weeks=2)
    members = _members(turn, role)
    start = overlap_start(day, members, Settings.of(role.programme), turn.person.timezone)
    clock = start.astimezone(turn.tz).strftime("%H:%M") if start else "10:00"
    turn.say("meetings/next_form_intro", suits=start.astimezone(turn.tz) if start else None,
             several=len(members) > 1, form=Form(
                 title=turn.text("forms/next_title"), action_id="next_submit",
                 submit_label=turn.text("forms/next_submit"), fields=(
                     FormField("date", turn.text("forms/date"), "date",
                               initial=day.date().isoformat(),
                               error=turn.text("forms/date_needed")),
                     FormField("time", turn.text("forms/time"), "time", initial=clock,
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
        record(turn, role, When(appointment.at.astimezone(turn.tz), True), 60, "", appointment)
    elif answer == "moved":
        open_next_form(turn, event)  # booking a new time moves this (past) appointment
    else:
        turn.say("meetings/not_yet", buttons=(Button(turn.text("buttons/schedule_next"), NEXT_BUTTON),))


def _role_for_appointment(turn: Turn, appointment_id: int):
    appointment = meetings.appointment(turn.session, appointment_id)
    for role in turn.roles:
        if role.pair is not None and appointment is not None and role.pair.id == appointment.pair_id:
            return role
    raise Refusal("errors/stale_button")
