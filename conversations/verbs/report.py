"""`report`: programme health for its managers, in short (counts only, never content)."""
from __future__ import annotations

from conversations.grammar import Command
from conversations.health import programme_report, summary_values
from conversations.turn import Refusal, Turn


def report(turn: Turn, command: Command) -> None:
    managed = [r.programme for r in turn.roles if r.name == "manager"]
    if not managed:
        raise Refusal("errors/managers_only")
    wanted = command.args.strip().lower()
    if wanted:
        chosen = [p for p in managed if wanted in (p.slug.lower(), p.name.lower())]
        if not chosen:
            raise Refusal("report/which", said=wanted[:60],
                          choices=[f"{p.slug} ({p.name})" for p in managed])
        managed = chosen
    for programme in managed:
        health = programme_report(turn.session, programme, turn.now)
        turn.say("report/summary", **summary_values(health))
