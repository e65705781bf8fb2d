"""`reflect` and `evaluate`: start (or resume) a dialog on request."""
from __future__ import annotations

from conversations.dialogs import ask, asker_for
from conversations.dialogs.forms import pick_reflection
from conversations.grammar import Command
from conversations.turn import Refusal, Turn
from storage import answers


def reflect(turn: Turn, command: Command) -> None:
    role = turn.pair_role()
    asked = answers.asked_questions(turn.session, turn.person.id, "reflection:")
    key = pick_reflection(role.name, asked)
    if key is None:
        raise Refusal("dialogs/reflection/bank_used")
    form = f"reflection:r{int(turn.now.timestamp())}:{key}"
    message = ask(asker_for(turn, role.pair.id), form, intro=turn.text("dialogs/reflection/intro"))
    turn.replies.append(message)


def evaluate(turn: Turn, command: Command) -> None:
    role = turn.pair_role()
    asker = asker_for(turn, role.pair.id)
    message = ask(asker, "evaluation", intro=turn.text("dialogs/evaluation/intro"))
    if message is None:
        raise Refusal("dialogs/evaluation/already_done")
    turn.replies.append(message)
