"""Turn one outbox row into the message its recipient reads, in their language and time zone.

Composing happens at send time, not when the row is proposed, so the message reflects the
latest state (an agenda reminder whose agenda already arrived is skipped, not sent).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from conversations import announcement_text
from conversations.dialogs import Asker, ask, form_opened_by
from conversations.dialogs.forms import pick_reflection
from conversations.health import pair_health
from conversations.ics import Attendee, invite
from conversations.messages import Button, Message
from conversations.programme import Settings, end_moment, meetings_agreed_by
from conversations.texts import Texts
from conversations.timeline import agenda_reminder_at
from conversations.verbs.meetings import BOOK_CHOICE, INVITE_NAME, LOG_BUTTON, NEXT_BUTTON
from storage import announcements, answers, meetings
from storage.people import membership_in_pair, pair_members
from storage.tables import Agenda, Appointment, Delivery, Meeting, Pair, Person, Programme

DIALOG_KINDS = {"kickoff", "pulse", "reflection", "evaluation"}
INVITING = {"meeting_booked", "meeting_moved", "meeting_cancelled"}  # carry the calendar invite
PAYLOAD_DEFAULTS = {"followup": False, "reminder": False, "round": 1, "repeat": 0}


class Skip(Exception):
    """This row should not be sent any more; the reason is recorded on it."""


@dataclass(frozen=True)
class PairFacts:
    """What composing asks of each pair, loaded for a whole batch of rows at once (the outbox
    does, storage/outbox.pair_facts): its active members (mentors first) and meetings held.
    A pair not in here is looked up on its own."""
    members: dict[int, list[tuple[Person, str]]] = field(default_factory=dict)
    meetings: dict[int, int] = field(default_factory=dict)


@dataclass
class Context:
    session: object
    delivery: Delivery
    person: Person
    programme: Programme
    pair: Pair | None
    role: str
    now: datetime
    texts: Texts
    payload: dict
    asked: bool = False  # composing opened a question (one open question per person at a time)
    organizer: str = ""  # the bot's calendar address, for invites
    known: PairFacts | None = None
    _members: list[tuple[Person, str]] | None = field(default=None, repr=False)

    @property
    def lang(self) -> str:
        return self.person.language if self.person.language in ("en", "da") else "en"

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(ZoneInfo(self.person.timezone))

    def text(self, template: str, /, **values: object) -> str:
        values.setdefault("now", self.local(self.now))  # words true on the day it is read
        return self.texts.render(self.lang, template, **values)

    def members(self) -> list[tuple[Person, str]]:
        """The pair's active people with their role, mentors first (read once)."""
        if self.pair is None:
            return []
        if self._members is None:
            known = self.known.members.get(self.pair.id) if self.known is not None else None
            self._members = known if known is not None else \
                pair_members(self.session, self.pair.id)
        return self._members

    def partners(self) -> list[Person]:
        return [p for p, _ in self.members() if p.id != self.person.id]

    def meetings_held(self) -> int:
        if self.pair is None:
            return 0
        if self.known is not None and self.pair.id in self.known.meetings:
            return self.known.meetings[self.pair.id]
        return meetings.meeting_count(self.session, self.pair.id)

    def asker(self) -> Asker:
        return Asker(self.session, self.person.id, self.pair.id, self.role, self.now, self.text,
                     len(self.partners()) > 1)

    def button(self, label: str, action: str, value: str = "") -> Button:
        return Button(self.text(f"buttons/{label}"), action, value)


def facts(ctx: Context) -> dict:
    """What every message may need to be true for its reader: group or pair, met or never,
    the programme ended or not, the reader's role, and who the others are."""
    others = ctx.partners()
    group = len(others) > 1
    held = ctx.meetings_held()
    # In a group, first names read warmer than a list of full names.
    names = [p.name.split()[0] if group else p.name for p in others]
    return dict(first_name=ctx.person.name.split()[0], programme=ctx.programme.name,
                partners=names, role=ctx.role, group=group, met=held > 0, held=held,
                ended=ctx.now > end_moment(ctx.programme), cadence=ctx.programme.cadence_weeks)


def compose(ctx: Context) -> Message:
    """The message for this row; raises Skip when it no longer makes sense to send it."""
    kind = ctx.delivery.kind
    values = {**facts(ctx), **PAYLOAD_DEFAULTS, **ctx.payload}
    extra = _EXTRAS.get(kind)
    buttons: tuple[Button, ...] = ()
    if extra is not None:
        more, buttons = extra(ctx)
        values.update(more)
    text = ctx.text(f"timeline/{kind}", **values)
    if kind in DIALOG_KINDS and ctx.pair is not None:
        form = _dialog_form(ctx)
        if form is not None:
            question = ask(ctx.asker(), form, intro=text)
            if question is None and kind == "evaluation":
                raise Skip("evaluation already finished")
            if question is not None:
                ctx.asked = True
                return Message(question.text, buttons=question.buttons + buttons,
                               ephemeral=False)
    attachment = None
    if kind in INVITING:
        attachment = invite_for(ctx, ctx.session.get(Appointment, ctx.payload["appointment_id"]))
    return Message(text, buttons=buttons, ephemeral=False, attachment=attachment)


def _dialog_form(ctx: Context) -> str | None:
    kind = ctx.delivery.kind
    if kind != "reflection":  # the same rule that later recognises an answer as asked for
        return form_opened_by(kind, ctx.payload, ctx.role)
    asked = answers.asked_questions(ctx.session, ctx.person.id, "reflection:")
    key = pick_reflection(ctx.role, asked, offset=ctx.delivery.id or 0)
    return f"reflection:m{ctx.payload.get('meeting_id', 0)}:{key}" if key else None


def _appointment(ctx: Context) -> Appointment:
    appointment = ctx.session.get(Appointment, ctx.payload.get("appointment_id", 0))
    if appointment is None or appointment.status != "scheduled":
        raise Skip("meeting no longer scheduled")
    if appointment.sequence != ctx.payload.get("sequence", appointment.sequence):
        raise Skip("meeting moved since")
    return appointment


def _preparing(ctx: Context) -> Appointment:
    """A prompt that prepares a meeting is only true before it starts."""
    appointment = _appointment(ctx)
    if appointment.at <= ctx.now:
        raise Skip("the meeting has started")
    return appointment


def _attending(ctx: Context) -> Appointment:
    """A reminder is for someone coming: not for a group mentee who sent regrets."""
    appointment = _preparing(ctx)
    if meetings.sent_regrets(ctx.session, appointment, ctx.person.id):
        raise Skip("sent regrets")
    return appointment


def _agenda_reminder(ctx: Context):
    appointment = _attending(ctx)
    if meetings.agenda_for(ctx.session, appointment.id) is not None:
        raise Skip("agenda already sent")
    return {"when": ctx.local(appointment.at)}, ()


def _meeting_reminder(ctx: Context):
    appointment = _attending(ctx)
    agenda = meetings.agenda_for(ctx.session, appointment.id)
    return {"when": ctx.local(appointment.at), "has_agenda": agenda is not None}, ()


def _did_you_meet(ctx: Context):
    appointment = _appointment(ctx)
    if meetings.sent_regrets(ctx.session, appointment, ctx.person.id):
        raise Skip("sent regrets")  # a group mentee who said she wouldn't be there
    value = str(appointment.id)
    return {"when": ctx.local(appointment.at)}, (
        ctx.button("met_yes", "did_meet", f"yes:{value}"),
        ctx.button("met_moved", "did_meet", f"moved:{value}"),
        ctx.button("met_not_yet", "did_meet", f"not_yet:{value}"),
    )


def _agenda(ctx: Context):
    """The agendas sent for one meeting, together (a group's mentees may each send one);
    each author's latest only, and none that was erased since."""
    ids = ctx.payload.get("agenda_ids") or [ctx.payload.get("agenda_id", 0)]
    latest: dict[int, Agenda] = {}
    for agenda in filter(None, (ctx.session.get(Agenda, i) for i in ids)):
        latest[agenda.author_id] = agenda
    if not latest:
        raise Skip("agenda erased")
    items = [(ctx.session.get(Person, a.author_id).name, a.text) for a in latest.values()]
    first = next(iter(latest.values()))
    appointment = ctx.session.get(Appointment, first.appointment_id) \
        if first.appointment_id else None
    return {"author": items[0][0], "agenda": items[0][1], "items": items,
            "when": ctx.local(appointment.at) if appointment else None}, ()


def _relayed_change(ctx: Context) -> tuple[Appointment, str]:
    appointment = ctx.session.get(Appointment, ctx.payload.get("appointment_id", 0))
    if appointment is None:
        raise Skip("meeting erased")
    kind = ctx.delivery.kind
    if kind != "meeting_cancelled" and appointment.status != "scheduled":
        raise Skip(f"meeting {appointment.status}")
    if kind == "meeting_moved" and appointment.sequence != ctx.payload.get("sequence"):
        raise Skip("moved again since")
    booker = ctx.session.get(Person, ctx.payload.get("by", 0))
    return appointment, booker.name if booker else ""


def _meeting_booked(ctx: Context):
    appointment, by = _relayed_change(ctx)
    values = {"when": ctx.local(appointment.at), "by": by,
              "ask_agenda": ctx.role == "mentee" and _agenda_too_late(ctx, appointment)}
    if ctx.delivery.kind == "meeting_moved":
        values["before"] = ctx.local(datetime.fromisoformat(ctx.payload["from"]))
    if ctx.delivery.kind == "meeting_cancelled":
        known = ctx.payload.get("known")
        values["when"] = ctx.local(datetime.fromisoformat(known) if known else appointment.at)
        values["note"] = ctx.payload.get("note", "")
    return values, ()


def _meeting_proposed(ctx: Context):
    """A mentee proposed a time for the group; true only while nothing changed since."""
    at = datetime.fromisoformat(ctx.payload["at"])
    booked = meetings.next_appointment(ctx.session, ctx.pair.id) if ctx.pair else None
    moving = "from" in ctx.payload
    if booked is not None and booked.at == at:
        raise Skip("booked as proposed")
    if moving and (booked is None or booked.at != datetime.fromisoformat(ctx.payload["from"])):
        raise Skip("the booking changed since")
    if not moving and booked is not None and booked.at > ctx.now:
        raise Skip("a meeting was booked since")
    by = ctx.session.get(Person, ctx.payload.get("by", 0))
    return {"when": ctx.local(at), "by": by.name.split()[0] if by else "",
            "before": ctx.local(booked.at) if moving and booked else None}, (
        Button(ctx.text("buttons/book_proposed"), BOOK_CHOICE, ctx.payload["choice"],
               "primary"),)


def _meeting_regrets(ctx: Context):
    """A group mentee can't come; true while the meeting stands at that time."""
    appointment = _preparing(ctx)
    by = ctx.session.get(Person, ctx.payload.get("by", 0))
    return {"when": ctx.local(appointment.at), "by": by.name.split()[0] if by else "",
            "note": ctx.payload.get("note", "")}, ()


def _proposal_lapsed(ctx: Context):
    """The mentee's proposed time no mentor booked; said only if the booking has not changed
    since (booked, moved or cancelled: they heard of that instead)."""
    at = datetime.fromisoformat(ctx.payload["at"])
    proposed = datetime.fromisoformat(ctx.payload["proposed_at"])
    booked = meetings.next_appointment(ctx.session, ctx.pair.id) if ctx.pair else None
    if booked is not None and (booked.at == at or _aware(booked.changed_at or booked.created_at)
                               > proposed):
        raise Skip("the booking changed since")
    if "from" in ctx.payload and (booked is None
                                  or booked.at != datetime.fromisoformat(ctx.payload["from"])):
        raise Skip("the booking changed since")
    mentors = [p.name.split()[0] for p, r in ctx.members() if r == "mentor"]
    return {"when": ctx.local(at), "names": mentors}, ()


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; make them aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _agenda_too_late(ctx: Context, appointment: Appointment) -> bool:
    """Booked after the agenda reminder's moment: the booking itself asks for the agenda."""
    if meetings.agenda_for(ctx.session, appointment.id) is not None:
        return False
    settings = Settings.of(ctx.programme)
    booked = appointment.changed_at or appointment.created_at
    return agenda_reminder_at(appointment.at, ctx.person.timezone, settings) <= booked


def invite_for(ctx: Context, appointment: Appointment) -> tuple[str, str, bytes]:
    people = [p for p, _ in pair_members(ctx.session, appointment.pair_id)]
    names = ", ".join(p.name for p in people if p.id != ctx.person.id)
    return INVITE_NAME, "text/calendar", invite(
        uid=appointment.uid, sequence=appointment.sequence, at=appointment.at, minutes=60,
        title=ctx.text("meetings/ics_title", names=names), organizer=ctx.organizer,
        attendees=[Attendee(p.name, p.email) for p in people], stamp=ctx.now,
        cancelled=appointment.status == "cancelled")


def _book_buttons(ctx: Context):
    if ctx.pair is not None and meetings.next_appointment(ctx.session, ctx.pair.id):
        raise Skip("a meeting is booked")
    if ctx.delivery.kind == "first_meeting_chase" and ctx.pair is not None \
            and ctx.meetings_held():
        raise Skip("the pair has met")
    return {}, (ctx.button("schedule_next", NEXT_BUTTON), ctx.button("snooze_week", "snooze", "7"))


def _status_values(ctx: Context):
    held = ctx.meetings_held()
    if ctx.payload.get("reason") == "no_meeting" and ctx.pair is not None:
        last = meetings.last_meeting(ctx.session, ctx.pair.id)
        if "since_meeting" in ctx.payload and (last.id if last else 0) != ctx.payload["since_meeting"]:
            raise Skip("the pair has met since")
    started_at = ctx.pair.started_at if ctx.pair is not None else None
    return {"held": held, "agreed": meetings_agreed_by(ctx.programme, ctx.now, started_at)}, (
        ctx.button("schedule_next", NEXT_BUTTON), ctx.button("log_meeting", LOG_BUTTON))


def _reflection(ctx: Context):
    meeting = ctx.session.get(Meeting, ctx.payload.get("meeting_id", 0))
    logger = ctx.session.get(Person, meeting.logged_by) if meeting else None
    return {"logged_by_me": logger is not None and logger.id == ctx.person.id,
            "logger": logger.name.split()[0] if logger else ""}, ()


def _kickoff(ctx: Context):
    """`met`: a pair imported late may log a meeting before its welcome reaches it."""
    return {"ends": ctx.programme.ends, "cadence": ctx.programme.cadence_weeks,
            "met": ctx.meetings_held() > 0}, (
        (ctx.button("schedule_next", NEXT_BUTTON),) if ctx.role == "mentor" else ())


def _droop_flag(ctx: Context):
    """How long the pair has been quiet and how many nudges went unanswered, as they stand
    when the flag is read (not when it was planned); never anyone's answers."""
    members = pair_members(ctx.session, ctx.payload.get("flag_pair", 0))
    pair = ctx.session.get(Pair, ctx.payload.get("flag_pair", 0))
    values = {"names": [p.name for p, _ in members], "cadence": ctx.programme.cadence_weeks,
              "group": len(members) > 2, "repeat": ctx.payload.get("repeat", 0)}
    if pair is None:
        raise Skip("pair erased")
    health = pair_health(ctx.session, ctx.programme, pair, ctx.now)
    if ctx.payload.get("reason") == "no_meeting" and health.status not in ("drooping", "silent"):
        raise Skip("the pair has met since")
    return {**values, "weeks": max(1, health.weeks_quiet), "met": health.met,
            "nudges": health.nudges}, ()


def _announcement(ctx: Context):
    saved = announcements.get(ctx.session, ctx.payload.get("announcement_id", 0))
    if saved is None or saved.status != "sent":
        raise Skip("announcement cancelled")
    partner = ", ".join(p.name.split()[0] for p in ctx.partners())
    text = announcement_text.render(saved.template, first_name=ctx.person.name.split()[0],
                                    programme=ctx.programme.name, partner=partner)
    if ctx.payload.get("reminder") and saved.event_at and saved.event_at <= ctx.now:
        raise Skip("the event has started")
    buttons = ()
    if saved.rsvp and not ctx.payload.get("reminder"):
        buttons = (ctx.button("rsvp_yes", "rsvp", f"{saved.id}:yes"),
                   ctx.button("rsvp_no", "rsvp", f"{saved.id}:no"))
    return {"text": text, "when": ctx.local(saved.event_at) if saved.event_at else None}, buttons


_EXTRAS = {
    "announcement": _announcement,
    "droop_flag": _droop_flag,
    "kickoff": _kickoff,
    "agenda_reminder": _agenda_reminder,
    "meeting_reminder": _meeting_reminder,
    "did_you_meet": _did_you_meet,
    "agenda": _agenda,
    "meeting_booked": _meeting_booked,
    "meeting_moved": _meeting_booked,
    "meeting_cancelled": _meeting_booked,
    "meeting_proposed": _meeting_proposed,
    "meeting_regrets": _meeting_regrets,
    "proposal_lapsed": _proposal_lapsed,
    "first_meeting_chase": _book_buttons,
    "meeting_nudge": _book_buttons,
    "droop": _status_values,
    "reflection": _reflection,
}


def buttons_of_sent(session, delivery: Delivery, texts: Texts, now: datetime
                    ) -> tuple[Button, ...]:
    """The buttons a sent prompt carries, as they stand now: for a surface that keeps only the
    text (the console shows them again, so a typed `#1` or `yes` makes sense there). Nothing
    is sent or changed; a prompt that is no longer true has no buttons."""
    extra = _EXTRAS.get(delivery.kind)
    person = session.get(Person, delivery.person_id)
    if extra is None or person is None:
        return ()
    pair = session.get(Pair, delivery.pair_id) if delivery.pair_id else None
    role = "manager"
    if pair is not None:
        membership = membership_in_pair(session, person.id, pair.id)
        role = membership.role if membership else "mentee"
    ctx = Context(session, delivery, person, session.get(Programme, delivery.programme_id),
                  pair, role, now, texts, payload_of(delivery))
    try:
        return tuple(extra(ctx)[1])
    except (Skip, KeyError, ValueError):
        return ()


def payload_of(delivery: Delivery) -> dict:
    return json.loads(delivery.payload_json or "{}")
