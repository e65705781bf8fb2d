"""The questionnaires the bot asks, one question at a time (engine layer, no I/O).

A form is an ordered list of questions; which list depends on the form's kind and the
person's role. Question wording lives in `prompts/<lang>/dialogs/<kind>/<key>.md.j2`.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_GOALS = 3


@dataclass(frozen=True)
class Question:
    key: str
    kind: str  # "rating" (1–5) or "text"
    template: str
    optional: bool = False
    goal: int | None = None  # which learning goal a goal rating is about


# Reflection questions: a different bank for mentors and mentees, never repeated to one person.
REFLECTION_BANK = {
    "mentee": ("surprised", "strength", "achievement", "differently", "emotion", "answer",
               "grateful", "next_step", "courage", "advice", "pattern", "energy"),
    "mentor": ("new_angle", "organisation", "generation", "influence", "own_leadership",
               "listened", "question", "learned_self", "challenge", "trust", "pace", "hold_back"),
}

EVALUATION_LIKERT = ("expectations", "trust", "prepared", "learned", "applied",
                     "line_manager_feedback", "line_manager_support", "recommend")
EVALUATION_OPEN = ("most_valuable", "improve", "after")
PULSE = ("pulse_trust", "pulse_useful", "pulse_rhythm")


def kind_of(form: str) -> str:
    """'reflection:41' → 'reflection'."""
    return form.split(":", 1)[0]


def reflection_questions(role: str, question_key: str) -> list[Question]:
    questions = [Question(question_key, "text", f"dialogs/reflection/{role}/{question_key}"),
                 Question("rating", "rating", "dialogs/reflection/rating")]
    if role == "mentee":
        questions.append(Question("actions", "text", "dialogs/reflection/actions", optional=True))
    return questions


def pick_reflection(role: str, asked: set[str], offset: int = 0) -> str | None:
    """The next question this person has not had yet, or None when the bank is used up."""
    bank = REFLECTION_BANK["mentor" if role == "mentor" else "mentee"]
    fresh = [q for q in bank if q not in asked]
    return fresh[offset % len(fresh)] if fresh else None


def baseline_questions(goals: list[str]) -> list[Question]:
    questions = [Question("goals", "text", "dialogs/baseline/goals")]
    questions += [Question(f"goal_{i}", "rating", "dialogs/baseline/goal_rating", goal=i)
                  for i in range(1, len(goals) + 1)]
    return questions


# The line manager's support is the mentee's to judge (practice: it scores lowest, worth asking).
MENTEE_ONLY = ("line_manager_feedback", "line_manager_support")


def evaluation_questions(role: str, goals: list[str]) -> list[Question]:
    questions = [Question(k, "rating", f"dialogs/evaluation/{k}") for k in EVALUATION_LIKERT
                 if role == "mentee" or k not in MENTEE_ONLY]
    if role == "mentee":
        questions += [Question(f"goal_{i}", "rating", "dialogs/evaluation/goal_rating", goal=i)
                      for i in range(1, len(goals) + 1)]
    questions += [Question(k, "text", f"dialogs/evaluation/{k}", optional=True)
                  for k in EVALUATION_OPEN]
    return questions


def pulse_questions() -> list[Question]:
    return [Question(k, "rating", f"dialogs/pulse/{k}") for k in PULSE]


def split_goals(text: str) -> list[str]:
    """'1) speak up 2) delegate' or one goal a line → up to three short goals."""
    import re

    parts = re.split(r"(?:^|\s)(?:\d[.)]|[-•*;])\s+|\n|;", text)
    goals = [p.strip(" ,.") for p in parts if p and p.strip(" ,.")]
    return [g[:200] for g in goals[:MAX_GOALS]]
