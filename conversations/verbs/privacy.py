"""`export` and `forget`: every participant owns their data."""
from __future__ import annotations

from conversations.grammar import Command
from conversations.messages import Message
from conversations.turn import Turn
from storage.privacy import export_json, forget_person

CONFIRM = {"confirm", "bekræft", "bekraeft", "yes", "ja"}


def export(turn: Turn, command: Command) -> None:
    data = export_json(turn.session, turn.person)
    message = turn.say("privacy/export", size=len(data))
    turn.replies[-1] = Message(message.text, attachment=("my-mentoring-data.json",
                                                         "application/json", data))


def forget(turn: Turn, command: Command) -> None:
    if command.args.strip().lower() not in CONFIRM:
        turn.say("privacy/forget_confirm")
        return
    counts = forget_person(turn.session, turn.person)
    turn.say("privacy/forgotten", **counts)
