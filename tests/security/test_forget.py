"""`forget confirm` leaves nothing behind that names the person: their RSVPs and chat
identities go, while everyone else's stay. The inbox, each request's only record, keeps no
name of anyone once a request is answered: its keys are digests, and an answered row forgets
its sender."""
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.slack import inbound as slack
from storage.people import person_by_email
from storage.tables import Identity, InboxItem, Rsvp
from tests.fake_teams_connector import refuse_internet, serve_bot
from tests.helpers import import_programme, say

MAJA = "maja.kruse@example.org"
JONAS, ANNA = "jonas.berg@example.org", "anna.weiss@example.org"
SLACK_IDS = {JONAS: "U0JONAS", ANNA: "U0ANNA"}
TUESDAY = datetime(2026, 9, 15, 8, 0, tzinfo=UTC)


def _slack(services, email: str, event):
    """Hand an event, translated by the Slack adapter's own inbound code, to the engine."""
    return [m.text for m in services.engine.handle(event).messages]


def _ref(email: str):
    return slack.ref_for(SLACK_IDS[email], "T0TEAM", email=email, channel="D0" + email[:4])


def _press_rsvp(services, email: str, value: str):
    body = {"actions": [{"action_id": "rsvp:0", "value": value}]}
    return _slack(services, email, slack.action_event(body, _ref(email), services.clock.now()))


def _command(services, email: str, text: str):
    body = {"text": text}
    return _slack(services, email, slack.command_event(body, _ref(email), services.clock.now()))


def _keys(db) -> list[str]:
    """Every stored record of a request: each inbox row's key and sender (answered rows stay a
    day, to recognise a platform's retry)."""
    with db.unit() as s:
        return [f"{key} {sender}" for key, sender in s.exec(select(InboxItem.key,
                                                                    InboxItem.sender))]


async def test_forget_removes_their_rsvps_and_identities_and_no_one_elses(
        services, clock, messenger):
    import_programme(services.db, now=clock.now())
    clock.set(TUESDAY)
    say(services, MAJA, "announce mentees monday 14:00 Master class on feedback")
    say(services, MAJA, "announce confirm")
    await services.pump()
    yes = next(b.value for s in messenger.sent if s.email == JONAS and "Master class" in s.text
               for b in s.message.buttons if b.action_id == "rsvp" and b.value.endswith("yes"))
    assert "on the list" in _press_rsvp(services, JONAS, yes)[0]
    assert "on the list" in _press_rsvp(services, ANNA, yes)[0]

    replies = _command(services, JONAS, "forget confirm")
    assert "Done." in replies[0]

    with services.db.unit() as s:
        jonas, anna = person_by_email(s, JONAS).id, person_by_email(s, ANNA).id
        assert [r.person_id for r in s.exec(select(Rsvp))] == [anna]
        assert not s.exec(select(Identity).where(Identity.person_id == jonas)).all()
        assert s.exec(select(Identity.user_id).where(Identity.person_id == anna)).all() == [
            SLACK_IDS[ANNA]]
    assert "Coming: 1, can't make it: 0" in say(services, MAJA, "announce status")[0]


@pytest.fixture
async def bot(sqlite_database, clock, monkeypatch):
    """The Teams endpoint served on 127.0.0.1 with a fake connector; nothing leaves."""
    attempts = refuse_internet(monkeypatch)
    running = await serve_bot(sqlite_database, clock)
    import_programme(running.services.db, now=clock.now())
    yield running
    await running.close()
    assert attempts == []


async def test_forget_in_teams_leaves_no_record_that_names_them(bot):
    """A Teams install and message are recorded in the inbox (to turn a redelivery away), and
    the bot knew Jonas by his ids; after `forget confirm` neither the member id nor the AAD
    object id is in any key, sender or identity."""
    user = bot.teams.user(JONAS)
    await bot.teams.install(JONAS)

    def identities() -> list[str]:
        with bot.services.db.unit() as s:
            return list(s.exec(select(Identity.user_id)))

    assert any(user.aad_object_id in i or user.id in i for i in identities())

    calls = await bot.teams.say(JONAS, "forget confirm")
    assert "Done." in calls[-1].text

    keys = _keys(bot.services.db) + identities()
    assert not [k for k in keys if user.aad_object_id in k or user.id in k], keys
    with bot.services.db.unit() as s:  # the install and the `forget confirm` were answered
        assert s.exec(select(InboxItem.status)).all() == ["done", "done"]
