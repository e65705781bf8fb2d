"""`agenda`: the mentee prepares the next meeting and the bot hands it to the mentor."""
from __future__ import annotations

from datetime import timedelta

from conversations.grammar import Command, MAX_TEXT
from conversations.programme import Settings
from conversations.turn import Refusal, Turn
from conversations.working_hours import relay_moment
from storage import meetings
from storage.outbox import Proposal, propose, withdraw


def agenda(turn: Turn, command: Command) -> None:
    role = turn.pair_role()
    if role.name != "mentee":
        raise Refusal("agenda/mentee_only")
    text = command.full_args.strip()
    if not text:
        raise Refusal("agenda/usage")
    if len(text) > MAX_TEXT:
        raise Refusal("errors/note_too_long", length=len(text), limit=MAX_TEXT)
    booked = meetings.next_appointment(turn.session, role.pair.id)
    saved = meetings.add_agenda(turn.session, pair_id=role.pair.id, person_id=turn.person.id,
                                text=text, appointment_id=booked.id if booked else None,
                                now=turn.now)
    mentors = [p for p, r in turn.partners(role) if r == "mentor"]
    settings = Settings.of(role.programme)
    meeting_at = booked.at if booked else None
    # One message per mentor and meeting: agendas of a group's mentees still waiting for the
    # mentor's working hours travel together in the latest one.
    scope = f"a{booked.id}" if booked else f"p{role.pair.id}"
    proposals, arrivals = [], []
    for mentor in mentors:
        waiting = withdraw(turn.session, mentor.id, f"agenda:{scope}:",
                           "sent together with a later agenda")
        together = [i for p in waiting for i in p.get("agenda_ids", [])] + [saved.id]
        # Relayed in the mentor's working hours, unless the meeting comes first.
        due = relay_moment(turn.now, mentor.timezone, settings, meeting_at)
        proposals.append(Proposal(
            key=f"agenda:{scope}:{saved.id}:{mentor.id}", person_id=mentor.id,
            programme_id=role.programme.id, pair_id=role.pair.id, kind="agenda", due_at=due,
            stale_after=max(booked.at, due + timedelta(days=1)) if booked
            else due + timedelta(days=365),
            priority=1, payload={"agenda_ids": together,
                                 **({"at": booked.at.isoformat()} if booked else {})}))
        if due > turn.now:
            arrivals.append((mentor.name, due.astimezone(turn.tz)))
    propose(turn.session, proposals)
    turn.say("agenda/sent", names=[m.name for m in mentors],
             when=booked.at.astimezone(turn.tz) if booked else None, arrivals=arrivals)
