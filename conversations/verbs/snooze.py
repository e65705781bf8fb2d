"""`snooze`/`pause`, `resume`, `optout`/`optin`: people decide how much the bot nudges them."""
from __future__ import annotations

import re
from datetime import timedelta

from conversations.grammar import Command, small_number
from conversations.messages import ActionInvoked
from conversations.turn import Refusal, Turn

MAX_SNOOZE = timedelta(weeks=8)
_SPAN = re.compile(
    r"^(?:for\s+|i\s+)?(?P<n>\d{1,3}|a|an|one|en|et)?\s*"
    r"(?P<unit>days?|d|dage?|weeks?|w|wk|uger?|u)\.?$", re.IGNORECASE)
_WORDS = {"a": 1, "an": 1, "one": 1, "en": 1, "et": 1}
_OFF = {"off", "stop", "end", "fra", "slut", "resume"}


def snooze(turn: Turn, command: Command) -> None:
    text = command.args.strip().lower()
    if text in _OFF:
        resume(turn, command)
        return
    span = parse_span(text) if text else timedelta(weeks=1)
    if span is None:
        raise Refusal("snooze/usage")
    if span <= timedelta(0):
        raise Refusal("snooze/too_short")
    if span > MAX_SNOOZE:
        raise Refusal("snooze/too_long", weeks=MAX_SNOOZE.days // 7)
    until = turn.now + span
    turn.person.snoozed_until = until
    turn.session.add(turn.person)
    turn.say("snooze/done", until=until.astimezone(turn.tz))


def parse_span(text: str) -> timedelta | None:
    match = _SPAN.match(text.strip())
    if not match:
        return None
    raw = (match.group("n") or "1").lower()
    n = _WORDS.get(raw) or int(raw)
    unit = match.group("unit").lower()
    return timedelta(days=n) if unit.startswith("d") else timedelta(weeks=n)


def resume(turn: Turn, command: Command) -> None:
    turn.person.snoozed_until = None
    turn.session.add(turn.person)
    turn.say("snooze/resumed")


def snooze_button(turn: Turn, event: ActionInvoked) -> None:
    days = small_number(event.value)
    days = 7 if days is None else days
    snooze(turn, Command("snooze", f"{min(days, 56)} days", "snooze"))


def optout(turn: Turn, command: Command) -> None:
    turn.person.optional_opt_out = True
    turn.session.add(turn.person)
    turn.say("snooze/optout")


def optin(turn: Turn, command: Command) -> None:
    turn.person.optional_opt_out = False
    turn.session.add(turn.person)
    turn.say("snooze/optin")
