"""The console shows the buttons of prompts the bot sent on its own (did you meet? …), so a
typed `#1` or `yes` answers them there as a card's button would in Slack or Teams."""
from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime

from app import build
from bot.console.app import ConsoleSession
from bot.console.messenger import ConsoleMessenger
from conversations.clock import FakeClock
from tests.helpers import import_programme, say

JONAS, GRACE = "jonas.berg@example.org", "grace.okafor@example.org"


def test_the_console_shows_and_presses_the_buttons_of_a_scheduled_prompt(sqlite_database):
    clock = FakeClock(datetime(2026, 9, 7, 8, 0, tzinfo=UTC))
    services = build(clock=clock, messenger=ConsoleMessenger(), db=sqlite_database,
                     worker="console")
    import_programme(sqlite_database, now=clock.now())
    asyncio.run(services.pump())
    say(services, GRACE, "next 8 september 03:00 anyway")  # 10:00 in Copenhagen
    clock.set(datetime(2026, 9, 8, 12, 30, tzinfo=UTC))  # two and a half hours after
    out = io.StringIO()
    session = ConsoleSession(engine=services.engine, db=sqlite_database, pump=services.pump,
                             email=JONAS, out=out)
    asyncio.run(session.run(["#1", "status"]))
    shown = out.getvalue()
    asked = shown.index("bot (did_you_meet)> Did your meeting with Grace Okafor")
    assert "[#1] Yes, we met   [#2] We moved it   [#3] Not yet" in shown[asked:]
    assert "bot> Logged: Tuesday 8 September, 10:00" in shown
    assert "Meetings held: 1" in shown
