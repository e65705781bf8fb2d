"""A manager announces a touchpoint through Teams: preview, confirm, delivery in working hours,
an unreachable mentee reported, RSVP counted, non-managers and unsafe templates refused."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.fake_teams_connector import serve_bot
from tests.helpers import import_programme

MAJA = "maja.kruse@example.org"
MENTEES = ("sofie.lund@example.org", "jonas.berg@example.org", "tom.becker@example.org",
           "anna.weiss@example.org")  # Omar never installs the bot
TUESDAY = datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
async def bot(database, clock):
    running = await serve_bot(database, clock)
    import_programme(running.services.db, now=clock.now())
    clock.set(TUESDAY)
    for email in (MAJA, *MENTEES):
        await running.teams.install(email)
    yield running
    await running.close()


def _buttons(call) -> list[dict]:
    card = call.card or {}
    return [a for a in card.get("actions", []) if a.get("type") == "Action.Submit"]


async def test_manager_announces_to_mentees_through_teams(bot):
    [preview] = await bot.teams.say(MAJA, "announce mentees monday 14:00 Master class on "
                                          "feedback. See you, {{ first_name }}!")
    assert "Preview" in preview.shown and "for 5 people" in preview.shown
    send = next(b for b in _buttons(preview) if b["data"]["action"] == "announce_send")
    calls = await bot.teams.submit(MAJA, preview.id, send["data"])
    assert any("On its way to 5 people" in c.shown for c in calls)

    for hours in range(0, 24 * 7, 3):
        bot.services.clock.set(TUESDAY + timedelta(hours=hours))
        await bot.services.pump()
    jonas = bot.teams.user("jonas.berg@example.org").conversation_id
    received = [c for c in bot.connector.delivered(jonas) if "Master class" in c.shown]
    assert len(received) == 2  # the announcement and the reminder the day before
    assert "See you, Jonas" in received[0].shown
    assert "Monday 21 September, 14:00" in received[0].shown
    rsvp = next(b for b in _buttons(received[0]) if b["data"]["value"].endswith(":yes"))
    await bot.teams.submit("jonas.berg@example.org", received[0].id, rsvp["data"])

    [status] = await bot.teams.say(MAJA, "announce status")
    assert "Delivered to 4 of 5" in status.shown
    assert "Omar Haddad" in status.shown and "opened a chat" in status.shown
    assert "Coming: 1" in status.shown


async def test_non_managers_and_unsafe_templates_are_refused(bot):
    [refused] = await bot.teams.say("jonas.berg@example.org", "announce everyone party!")
    assert "for the programme's managers" in refused.shown
    [unsafe] = await bot.teams.say(MAJA, "announce everyone Hi {{ ''.__class__ }}")
    assert "won't run" in unsafe.shown
    [unknown] = await bot.teams.say(MAJA, "announce everyone Hi {{ boss }}")
    assert "isn't a field I can fill in" in unknown.shown
