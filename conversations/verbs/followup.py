"""`followup`: the manager's individual follow-up with each pair, at least once."""
from __future__ import annotations

from conversations.grammar import Command
from conversations.turn import Refusal, Turn
from conversations.verbs.announce import manager_role
from storage.managers import mark_followed_up, pairs_not_followed_up


def followup(turn: Turn, command: Command) -> None:
    role = manager_role(turn)
    key = command.full_args.strip()
    if key:
        if not mark_followed_up(turn.session, role.programme.id, key, turn.now):
            raise Refusal("announce/pair_unknown", key=key[:40])
    pending = pairs_not_followed_up(turn.session, role.programme.id)
    turn.say("followup/status", marked=key, pending=pending)
