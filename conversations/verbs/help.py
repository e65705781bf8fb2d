"""`help`: what *you* can do, in your language."""
from __future__ import annotations

from conversations.grammar import Command
from conversations.turn import Turn
from conversations.verbs.meetings import mentors_book


def help_verb(turn: Turn, command: Command) -> None:
    names = {r.name for r in turn.roles}
    turn.say("help/main", name=turn.person.name.split()[0], mentee="mentee" in names,
             mentor="mentor" in names, manager="manager" in names,
             group_mentee=any(mentors_book(turn, r) for r in turn.roles if r.pair),
             programmes=sorted({r.programme.name for r in turn.roles}),
             several_pairs=len([r for r in turn.roles if r.pair]) > 1)
