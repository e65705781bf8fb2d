"""`console` / `konsol`: a one-time link into the manager's web console, for managers only."""
from __future__ import annotations

from markupsafe import Markup

from conversations.grammar import Command
from conversations.turn import Refusal, Turn
from storage.console_access import LINK_TIME, create_link


def console(turn: Turn, command: Command) -> None:
    managed = [r.programme for r in turn.roles if r.name == "manager"]
    if not managed:
        raise Refusal("console/managers_only")
    token = create_link(turn.session, turn.person.id, turn.now)
    url = f"{turn.public_url.rstrip('/')}/console/in/{token}"
    turn.say("console/link", url=Markup(url), minutes=int(LINK_TIME.total_seconds() // 60),
             programmes=[p.name for p in managed])
