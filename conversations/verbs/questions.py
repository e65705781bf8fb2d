"""`reflect` and `evaluate`: start (or resume) a dialog on request."""
from __future__ import annotations

from conversations.dialogs import ask, asker_for
from conversations.dialogs.forms import pick_reflection
from conversations.grammar import Command
from conversations.messages import Button
from conversations.programme import evaluation_opens
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


NOW_WORDS = {"now", "nu"}


def evaluate(turn: Turn, command: Command | None) -> None:
    """The evaluation belongs to the final phase; earlier, say when it opens and offer to start
    now anyway (a pair that ends early). Once started, it always resumes."""
    role = turn.pair_role()
    asker = asker_for(turn, role.pair.id)
    opens = evaluation_opens(role.programme)
    now_anyway = command is not None and command.args.strip().lower() in NOW_WORDS
    started = bool(answers.answers_for(turn.session, turn.person.id, role.pair.id, "evaluation"))
    if turn.now < opens and not now_anyway and not started:
        turn.say("dialogs/evaluation/not_open", opens=opens.astimezone(turn.tz),
                 buttons=(Button(turn.text("buttons/evaluate_now"), "evaluate", "now"),))
        return
    message = ask(asker, "evaluation", intro=turn.text("dialogs/evaluation/intro"))
    if message is None:
        raise Refusal("dialogs/evaluation/already_done")
    turn.replies.append(message)
