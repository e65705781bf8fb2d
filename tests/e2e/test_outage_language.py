"""The database is away when a request arrives: it cannot be stored, and the person is told
to try again in a moment, in their own language (remembered from their last turn in this
process; the database that would say it is the thing that is away)."""
import json
import urllib.parse

import pytest
from sqlalchemy.exc import OperationalError

from storage import inbox
from tests.fake_slack_api import ID, workspace
from tests.helpers import import_programme

SOFIE = "sofie.lund@example.org"  # Danish on the roster
DANISH, ENGLISH = "Prøv igen om lidt", "Please try again in a moment"


@pytest.fixture
def outage(monkeypatch):
    """From the moment it is called, every store fails as with the database gone."""
    def away(_engine, _item, _taker=""):
        raise OperationalError("INSERT INTO inbox", {}, ConnectionRefusedError())

    return lambda: monkeypatch.setattr(inbox, "store", away)


async def test_slack_a_danish_mentee_hears_try_again_in_danish(sqlite_database, clock, outage):
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        key = await slack.command(ID[SOFIE], "status")
        await slack.settle()
        assert slack.fake.responses(key)  # answered: her language is known here now
        outage()
        body = urllib.parse.urlencode({
            "team_id": "T0NORDLYS", "user_id": ID[SOFIE], "command": "/mentor",
            "text": "log today 45m", "channel_id": "C0GENERAL",
            "response_url": slack.fake.response_url("lost"), "trigger_id": "7.sofie"})
        status, text, _ = await slack.send(body, "application/x-www-form-urlencoded")
        assert status == 200
        said = json.loads(text)["text"]
        assert DANISH in said and ENGLISH not in said


async def test_slack_a_command_with_odd_fields_during_an_outage_is_still_answered(
        sqlite_database, clock, outage):
    """A form field the door lets through as text (`user`) is not read as an object on the
    way to "try again": the person is told, never a 500."""
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        outage()
        body = urllib.parse.urlencode({
            "team_id": "T0NORDLYS", "user_id": ID[SOFIE], "user": "sofie", "command": "/mentor",
            "text": "status", "channel_id": "C0GENERAL",
            "response_url": slack.fake.response_url("lost"), "trigger_id": "8.sofie"})
        status, text, _ = await slack.send(body, "application/x-www-form-urlencoded")
        assert status == 200
        assert ENGLISH in json.loads(text)["text"]  # nothing known of her here yet


async def test_teams_a_danish_mentee_hears_try_again_in_danish(bot, outage):
    await bot.teams.install(SOFIE)
    assert await bot.teams.say(SOFIE, "status")
    outage()
    calls = await bot.teams.say(SOFIE, "log today 45m", locale="en-US")
    assert len(calls) == 1
    assert DANISH in calls[0].text and ENGLISH not in calls[0].text
