"""Dialogs: questionnaires answered one question at a time, resumable, stored per person.

`ask()` puts a person at their first unanswered question of a form and returns the message
that asks it; a later text or button answers it. The timeline uses the same entry points for
reflections, pulses, the kick-off baseline and the evaluation.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from conversations.dialogs.forms import (REFLECTION_BANK, Question, baseline_questions,
                                         evaluation_questions, kind_of, pulse_questions,
                                         reflection_questions, split_goals)
from conversations import grammar
from conversations.grammar import MAX_TEXT, Command
from conversations.messages import ActionInvoked, Button, Message
from conversations.turn import Refusal, Turn
from storage import answers

SKIP_WORDS = {"skip", "spring over", "pass", "-"}
DIALOG_EXPIRES = timedelta(days=14)
ANSWER_ACTION = "answer"


@dataclass
class Asker:
    """Everything a dialog step needs, whether it runs in a chat turn or in the outbox."""

    session: object
    person_id: int
    pair_id: int
    role: str
    now: datetime
    render: Callable[..., str]
    group: bool = False  # more than one mentee or mentor with this person: wording in plural


def questions_for(asker: Asker, form: str) -> list[Question]:
    kind = kind_of(form)
    if kind == "reflection":
        return reflection_questions(asker.role, form.rsplit(":", 1)[-1])
    if kind == "pulse":
        return pulse_questions()
    goals = goals_of(asker)
    if kind == "baseline":
        return baseline_questions(goals)
    if kind == "evaluation":
        return evaluation_questions(asker.role, goals)
    raise ValueError(f"unknown form {kind}")


def goals_of(asker: Asker) -> list[str]:
    baseline = answers.answers_for(asker.session, asker.person_id, asker.pair_id, "baseline")
    return split_goals(baseline["goals"].text) if "goals" in baseline else []


def ask(asker: Asker, form: str, intro: str = "") -> Message | None:
    """The next unanswered question of `form` (with `intro` before it), or None when done."""
    given = answers.answers_for(asker.session, asker.person_id, asker.pair_id, form)
    questions = questions_for(asker, form)
    pending = [q for q in questions if q.key not in given or _placeholder(given[q.key], q)]
    if not pending:
        answers.end_dialog(asker.session, asker.person_id)
        return None
    question = pending[0]
    answers.set_dialog(asker.session, person_id=asker.person_id, pair_id=asker.pair_id,
                       form=form, question=question.key, now=asker.now)
    if kind_of(form) == "reflection" and question is questions[0]:
        # Remember the question was asked, so it is never asked again.
        answers.save_answer(asker.session, person_id=asker.person_id, pair_id=asker.pair_id,
                            form=form, question=question.key, now=asker.now, text="")
    return _question_message(asker, form, question, questions, intro)


def _placeholder(answer, question: Question) -> bool:
    return question.kind == "text" and not answer.text and answer.rating is None \
        and not question.optional


def _question_message(asker: Asker, form: str, question: Question, questions: list[Question],
                      intro: str) -> Message:
    goal = ""
    if question.goal:
        goals = goals_of(asker)
        goal = goals[question.goal - 1] if question.goal <= len(goals) else ""
    body = asker.render(question.template, goal=goal, group=asker.group)
    hint = asker.render("dialogs/hint", kind=question.kind, optional=question.optional,
                        number=questions.index(question) + 1, total=len(questions))
    text = "\n\n".join(part for part in (intro, body, hint) if part)
    buttons: tuple[Button, ...] = ()
    if question.kind == "rating":
        buttons = tuple(Button(str(n), ANSWER_ACTION, f"{form}|{question.key}|{n}")
                        for n in range(1, 6))
    return Message(text, buttons=buttons)


def answer(asker: Asker, form: str, key: str, raw: str) -> Message:
    """Store one answer (or explain what is wrong with it) and ask the next question."""
    questions = {q.key: q for q in questions_for(asker, form)}
    question = questions.get(key)
    if question is None:
        raise Refusal("dialogs/stale")
    raw = raw.strip()
    if raw.lower() in SKIP_WORDS and not question.optional:
        # `skip` / `spring over`: leave this question unanswered and go on (a rating is stored
        # as no rating; a question that must be answered closes the questionnaire for now).
        if question.kind == "rating":
            answers.save_answer(asker.session, person_id=asker.person_id,
                                pair_id=asker.pair_id, form=form, question=key, now=asker.now)
        else:
            answers.end_dialog(asker.session, asker.person_id)
            return Message(asker.render("dialogs/skipped"))
        following = ask(asker, form)
        return following if following is not None else Message(
            asker.render(f"dialogs/{kind_of(form)}/done"))
    if question.kind == "rating":
        rating = parse_rating(raw)
        if rating is None:
            again = _question_message(asker, form, question, list(questions.values()), "")
            return Message(asker.render("dialogs/rating_invalid", said=raw[:40]) + "\n\n"
                           + again.text, buttons=again.buttons)
        answers.save_answer(asker.session, person_id=asker.person_id, pair_id=asker.pair_id,
                            form=form, question=key, rating=rating, now=asker.now)
    else:
        skipped = raw.lower() in SKIP_WORDS
        if (not raw or skipped) and not question.optional:
            return Message(asker.render("dialogs/text_needed") + "\n\n" +
                           _question_message(asker, form, question,
                                             list(questions.values()), "").text)
        if len(raw) > MAX_TEXT:
            raise Refusal("errors/note_too_long", length=len(raw), limit=MAX_TEXT)
        answers.save_answer(asker.session, person_id=asker.person_id, pair_id=asker.pair_id,
                            form=form, question=key, text="" if skipped else raw,
                            now=asker.now)
    following = ask(asker, form)  # "thank you" once, at the end, not after every answer
    if following is not None:
        return following
    return Message(asker.render(f"dialogs/{kind_of(form)}/done"))


def parse_rating(raw: str) -> int | None:
    text = raw.strip().rstrip(".!").strip()
    if text.endswith("/5"):
        text = text[:-2].strip()
    return int(text) if text in ("1", "2", "3", "4", "5") else None


def asker_for(turn: Turn, pair_id: int) -> Asker:
    role = next((r for r in turn.roles if r.pair and r.pair.id == pair_id), None)
    group = role is not None and len(turn.partners(role)) > 1
    return Asker(turn.session, turn.person.id, pair_id, role.name if role else "mentee",
                 turn.now, turn.text, group)


_FORM = re.compile(r"baseline|evaluation|pulse:\d{1,4}|reflection:[mr]\d{1,12}:(?P<key>\w+)",
                   re.ASCII)


def known_form(role: str, form: str) -> bool:
    """Whether `form` names a questionnaire the bot asks this role (a button's value is
    whatever the platform sends back, so it is checked like typed text)."""
    match = _FORM.fullmatch(form)
    if match is None:
        return False
    key = match.group("key")
    return key is None or key in REFLECTION_BANK["mentor" if role == "mentor" else "mentee"]


def answer_in_dialog(turn: Turn, command: Command) -> bool:
    """Free text (no verb) while a question is open answers that question."""
    state = answers.dialog_of(turn.session, turn.person.id)
    if state is None or turn.now - state.updated_at > DIALOG_EXPIRES:
        return False
    if not any(r.pair and r.pair.id == state.pair_id for r in turn.roles):
        return False
    raw = " ".join(part for part in (command.said, command.full_args) if part)
    typo = grammar.near_verb(command.said)
    if typo:  # "lgo yesterday 14:00 45m" is a command mistyped, not an answer
        asker = asker_for(turn, state.pair_id)
        question = {q.key: q for q in questions_for(asker, state.form)}.get(state.question)
        asked = _question_message(asker, state.form, question, [question], "").text \
            if question else ""
        first = asked.split("\n\n", 1)[0]
        turn.say("dialogs/did_you_mean", verb=typo,
                 question=first if len(first) <= 90 else first[:87].rstrip() + "…")
        return True
    message = answer(asker_for(turn, state.pair_id), state.form, state.question, raw)
    turn.replies.append(message)
    return True


# Timeline prompts that open a questionnaire when they are sent (a reflection also does, and
# records its question as asked then, so its answers are evidence enough).
OPENING_KINDS = ("kickoff", "pulse", "evaluation")


def form_opened_by(kind: str, payload: dict, role: str) -> str | None:
    """The questionnaire a timeline prompt opens for this role, if any."""
    if kind == "kickoff":
        return "baseline" if role == "mentee" else None
    if kind == "pulse":
        return f"pulse:{payload.get('n', 1)}"
    if kind == "evaluation":
        return "evaluation"
    return None


def was_asked(asker: Asker, form: str) -> bool:
    """Whether this person was asked `form` about this pair: it is their open dialog, part
    of it is answered already, or a prompt that opens it was sent to them."""
    state = answers.dialog_of(asker.session, asker.person_id)
    if state is not None and (state.pair_id, state.form) == (asker.pair_id, form):
        return True
    if answers.answers_for(asker.session, asker.person_id, asker.pair_id, form):
        return True
    return any(form_opened_by(kind, json.loads(payload or "{}"), asker.role) == form
               for kind, payload in answers.prompts_sent(asker.session, asker.person_id,
                                                         asker.pair_id, OPENING_KINDS))


def _asked_of(turn: Turn, form: str) -> Asker | None:
    """The pair in which this person was asked `form` (their open dialog's pair first)."""
    state = answers.dialog_of(turn.session, turn.person.id)
    pairs = [state.pair_id] if state is not None and state.form == form else []
    pairs += [r.pair.id for r in turn.roles if r.pair is not None and r.pair.id not in pairs]
    for pair_id in pairs:
        asker = asker_for(turn, pair_id)
        if known_form(asker.role, form) and was_asked(asker, form):
            return asker
    return None


def answer_button(turn: Turn, event: ActionInvoked) -> None:
    """A rating button: accepted only for the question this person was asked and has not
    answered yet (a button's value is whatever the platform sends back, so a forged one
    naming another form, question or number is refused and nothing is stored)."""
    try:
        form, key, value = event.value.split("|")
    except ValueError:
        raise Refusal("errors/stale_button") from None
    if _FORM.fullmatch(form) is None:
        raise Refusal("errors/stale_button")
    asker = _asked_of(turn, form)
    if asker is None:
        raise Refusal("dialogs/not_asked", kind=kind_of(form))
    given = answers.answers_for(turn.session, turn.person.id, asker.pair_id, form)
    if key in given and given[key].rating is not None:
        raise Refusal("dialogs/already_answered")
    questions = questions_for(asker, form)
    pending = [q for q in questions if q.key not in given or _placeholder(given[q.key], q)]
    if not pending or pending[0].key != key or pending[0].kind != "rating":
        raise Refusal("dialogs/not_asked", kind=kind_of(form))
    turn.replies.append(answer(asker, form, key, value))
