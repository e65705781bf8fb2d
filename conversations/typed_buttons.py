"""Typed answers to the buttons of the latest prompt: "yes", "nej", "ja" … (engine layer).

Not every platform shows buttons (the console, a phone's notification), and people answer in
words anyway. A yes or no typed after a "did you meet?" or an invitation with RSVP buttons
presses the matching button (a group mentee's proposed time: yes books it); ratings 1–5
already answer the open question (dialogs).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from conversations.grammar import Command
from conversations.messages import ActionInvoked, TextReceived
from conversations.turn import Turn
from conversations.verbs.announce import rsvp
from conversations.verbs.meetings import book_choice, did_meet
from storage import announcements, answers, outbox

YES = {"yes", "y", "yep", "yeah", "ja", "jo", "jep"}
NO = {"no", "n", "nope", "nej", "not yet", "ikke endnu"}
RECENT = timedelta(days=14)


def press_typed(turn: Turn, command: Command, event: TextReceived) -> bool:
    """Whether `command` was a typed yes/no that answered the latest prompt's buttons."""
    said = " ".join(p for p in (command.said, command.full_args) if p).lower().strip(" .!")
    if said not in YES | NO:
        return False
    latest = outbox.latest_sent(turn.session, turn.person.id, turn.now - RECENT)
    if latest is None or latest.kind not in ("did_you_meet", "announcement", "meeting_proposed"):
        return False
    state = answers.dialog_of(turn.session, turn.person.id)
    if state is not None and _aware(state.updated_at) >= _aware(latest.sent_at):
        return False  # a question asked after the prompt is the one being answered
    payload = json.loads(latest.payload_json or "{}")
    yes = said in YES
    if latest.kind == "did_you_meet" and payload.get("appointment_id"):
        value = f"{'yes' if yes else 'not_yet'}:{payload['appointment_id']}"
        did_meet(turn, _press(event, "did_meet", value))
        return True
    if latest.kind == "meeting_proposed" and payload.get("choice"):
        if yes:
            book_choice(turn, _press(event, "book_choice", payload["choice"]))
        else:
            turn.say("meetings/proposal_left")
        return True
    saved = announcements.get(turn.session, payload.get("announcement_id", 0)) \
        if latest.kind == "announcement" else None
    if saved is not None and saved.rsvp and not payload.get("reminder"):
        rsvp(turn, _press(event, "rsvp", f"{payload['announcement_id']}:{'yes' if yes else 'no'}"))
        return True
    return False


def _press(event: TextReceived, action_id: str, value: str) -> ActionInvoked:
    return ActionInvoked(event.ref, action_id, value, event.at)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes; make them aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
