"""`agenda`: the mentee prepares the next meeting and the bot hands it to the mentor."""
from __future__ import annotations

from conversations.grammar import Command, MAX_TEXT
from conversations.turn import Refusal, Turn
from storage import meetings
from storage.outbox import Proposal, propose


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
    propose(turn.session, [
        Proposal(key=f"agenda:{saved.id}:{mentor.id}", person_id=mentor.id,
                 programme_id=role.programme.id, pair_id=role.pair.id, kind="agenda",
                 due_at=turn.now, stale_after=booked.at if booked else turn.now.replace(year=turn.now.year + 1),
                 priority=1, payload={"agenda_id": saved.id})
        for mentor in mentors
    ])
    turn.say("agenda/sent", names=[m.name for m in mentors],
             when=booked.at.astimezone(turn.tz) if booked else None)
