"""The Teams door (issue 11, finding 1): /api/messages exists only when asked for, and the bot
calls only Bot Connector addresses Teams could really have sent.

The attack it closes: anyone who could reach the port (which the Slack set-up exposes) posted an
activity whose `from.id` was a roster email and whose `serviceUrl` was their own server, and got
that person's `export`, repointed their stored Teams address, ran `forget confirm` ...
"""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

import pytest
from aiohttp import web
from sqlmodel import select

from app import build
from bot import web as bot_web
from bot.routing import RoutingMessenger
from bot.teams import auth
from storage.people import person_by_email, remember_identity
from storage.tables import Delivery, Identity
from tests.fake_bot_framework_login import FakeBotFrameworkLogin, bearer
from tests.fake_slack_api import workspace
from tests.fake_teams_connector import FakeConnector, refuse_internet, serve_bot
from tests.helpers import import_programme, snapshot

JONAS, GRACE = "jonas.berg@example.org", "grace.okafor@example.org"
GRACE_AT_WORK = datetime(2026, 9, 1, 14, 30, tzinfo=timezone.utc)  # 09:30 in Chicago
APP_ID = "00000000-0000-0000-0000-000000000001"
VALIDATED = {"MICROSOFT_APP_ID": APP_ID, "MICROSOFT_APP_PASSWORD": "x",
             "TEAMS_SERVICE_HOSTS": "127.0.0.1"}  # the fake connector stands in for smba…
ATTACKER = "https://attacker.example/bot/"


@pytest.fixture
def offline(monkeypatch):
    attempts = refuse_internet(monkeypatch)
    yield attempts
    assert attempts == []  # no look-up of any outside host: nothing was called


def _the_attack(teams, service_url: str, text: str = "export") -> dict:
    """An activity as the outsider writes it: a roster email as user id, their own serviceUrl."""
    activity = teams.activity(teams.user(JONAS), text=text, channelId="emulator",
                              serviceUrl=service_url)
    activity["from"] = {"id": JONAS, "name": "Jonas"}
    return activity


# -- Slack-only deployment: no Teams at all -----------------------------------------------------

async def test_a_slack_only_deployment_has_no_teams_endpoint(sqlite_database, clock, offline):
    import_programme(sqlite_database, now=clock.now())
    attacker = await FakeConnector().start()
    try:
        async with workspace(sqlite_database, clock) as slack:
            before = snapshot(sqlite_database)
            url = str(slack.server.make_url("/api/messages"))
            for text in ("export", "forget confirm", "log today 07:00 45m"):
                activity = _the_attack_on(attacker, text)
                async with slack.session.post(url, json=activity) as response:
                    assert response.status == 404
            assert attacker.calls == [] and attacker.lookups == []
            assert snapshot(sqlite_database) == before
    finally:
        await attacker.close()


def _the_attack_on(attacker: FakeConnector, text: str) -> dict:
    return {"type": "message", "id": f"f:{text}", "serviceUrl": attacker.url, "text": text,
            "channelId": "emulator", "from": {"id": JONAS, "name": "Jonas"},
            "conversation": {"id": "attacker-conversation"}, "recipient": {"id": "28:bot"}}


async def test_the_banner_says_teams_is_off_and_how_to_turn_it_on(sqlite_database, clock):
    router = RoutingMessenger({}, None)
    services = build(clock=clock, messenger=router, db=sqlite_database, worker="test")
    _, banner = bot_web.make_app(services, router, {})
    [teams] = [line for line in banner if line.startswith("Teams")]
    assert teams.startswith("Teams: off")
    assert "MICROSOFT_APP_ID" in teams and "TEAMS_EMULATOR=1" in teams
    assert "teams" not in router.messengers


# -- Emulator mode: an explicit opt-in, on this machine only -------------------------------------

@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "bot.example.org"])
async def test_emulator_mode_refuses_to_start_on_a_reachable_address(
        sqlite_database, clock, monkeypatch, capsys, host):
    def started(*args, **kwargs):
        raise AssertionError(f"serve started on HOST={host} with TEAMS_EMULATOR=1")

    monkeypatch.setattr(web, "run_app", started)
    monkeypatch.setenv("TEAMS_EMULATOR", "1")
    monkeypatch.delenv("MICROSOFT_APP_ID", raising=False)
    args = argparse.Namespace(host=host, port=0, tick_seconds=30.0)

    code = bot_web.serve(args, lambda router: build(clock=clock, messenger=router,
                                                    db=sqlite_database, worker="test"))

    error = capsys.readouterr().err
    assert code == 2
    assert "TEAMS_EMULATOR=1" in error and f"HOST={host}" in error


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
async def test_emulator_mode_starts_on_a_loopback_address(sqlite_database, clock, host):
    router = RoutingMessenger({}, None)
    services = build(clock=clock, messenger=router, db=sqlite_database, worker="test")
    _, banner = bot_web.make_app(services, router, {"TEAMS_EMULATOR": "1", "HOST": host})
    assert any(line.startswith("Teams: live") and "TEAMS_EMULATOR=1" in line for line in banner)


async def test_emulator_mode_and_an_app_id_together_are_refused(sqlite_database, clock):
    router = RoutingMessenger({}, None)
    services = build(clock=clock, messenger=router, db=sqlite_database, worker="test")
    with pytest.raises(ValueError, match="TEAMS_EMULATOR=1.*MICROSOFT_APP_ID"):
        bot_web.make_app(services, router, {**VALIDATED, "TEAMS_EMULATOR": "1"})


@pytest.fixture
async def emulator(sqlite_database, clock):
    running = await serve_bot(sqlite_database, clock)  # TEAMS_EMULATOR=1
    import_programme(running.services.db, now=clock.now())
    yield running
    await running.close()


@pytest.mark.parametrize("service_url", [
    ATTACKER,
    "http://attacker.example:8080/",
    "https://smba.trafficmanager.net/emea/",  # real Teams, but the Emulator runs here
    "http://127.0.0.1@attacker.example/",
    "file:///etc/passwd",
])
async def test_emulator_mode_calls_only_loopback_addresses(emulator, offline, service_url):
    before = snapshot(emulator.services.db)

    status, _ = await emulator.teams.post(_the_attack(emulator.teams, service_url))

    assert status == 403
    assert snapshot(emulator.services.db) == before  # no conversation reference stored


async def test_emulator_mode_refuses_requests_that_came_through_a_proxy(emulator, offline):
    before = snapshot(emulator.services.db)
    activity = _the_attack(emulator.teams, emulator.connector.url)
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        status, calls = await emulator.teams.post(activity, {header: "203.0.113.9"})
        assert status == 403 and calls == []
    assert emulator.connector.lookups == []
    assert snapshot(emulator.services.db) == before
    # The developer at this machine, without a proxy, is served.
    status, calls = await emulator.teams.post(activity)
    assert status == 200 and calls


async def test_a_stored_foreign_address_is_never_called(emulator, offline):
    """A reference the old open door stored (Grace "installed" from the attacker's server):
    her kickoff prompt fails for good instead of going there."""
    db = emulator.services.db
    with db.unit() as session:
        grace = person_by_email(session, GRACE)
        remember_identity(session, grace, platform="teams", user_id="29:planted",
                          now=emulator.services.clock.now(), conversation_id="a:attacker",
                          service_url=ATTACKER)
    emulator.services.clock.set(GRACE_AT_WORK)

    await emulator.services.pump()

    with db.unit() as session:
        kickoff = session.exec(select(Delivery).where(Delivery.person_id == grace.id,
                                                      Delivery.kind == "kickoff")).one()
        assert kickoff.status == "failed" and "service URL not allowed" in kickoff.last_error
    assert emulator.connector.calls == []


# -- Token validation on: the token vouches for the address, and the host is Teams' -----------

@pytest.fixture
async def login(monkeypatch):
    fake = await FakeBotFrameworkLogin().start()
    fake.use(monkeypatch)

    async def bot_token(self) -> str:  # our own outgoing token; Azure AD is not on this machine
        return "bot-token"

    monkeypatch.setattr(auth.BotAuth, "bot_token", bot_token)
    yield fake
    await fake.close()


@pytest.fixture
async def validated(sqlite_database, clock, login):
    running = await serve_bot(sqlite_database, clock, env=VALIDATED)
    import_programme(running.services.db, now=clock.now())
    yield running
    await running.close()


async def test_a_teams_request_with_a_valid_token_is_served(validated, login, offline):
    activity = validated.teams.activity(validated.teams.user(JONAS), text="status")
    token = login.channel_token(APP_ID, validated.connector.url)

    status, calls = await validated.teams.post(activity, bearer(token))

    assert status == 200
    assert "Meetings held:" in calls[-1].text
    assert calls[-1].authorization == "Bearer bot-token"


async def test_a_valid_token_on_another_address_is_refused(validated, login, offline):
    """The token vouches for the fake connector; the activity names the attacker's server."""
    before = snapshot(validated.services.db)
    activity = validated.teams.activity(validated.teams.user(JONAS), text="export",
                                        serviceUrl=ATTACKER)
    token = login.channel_token(APP_ID, validated.connector.url)

    status, calls = await validated.teams.post(activity, bearer(token))

    assert status == 401 and calls == []
    assert snapshot(validated.services.db) == before


async def test_a_token_that_vouches_for_no_address_cannot_name_one(validated, login, offline):
    """An Azure AD token for our app id (what the SDK accepts as an Emulator token) carries no
    serviceurl claim, so it cannot send the bot anywhere."""
    before = snapshot(validated.services.db)
    activity = validated.teams.activity(validated.teams.user(JONAS), text="export",
                                        serviceUrl=ATTACKER)

    status, calls = await validated.teams.post(activity, bearer(login.aad_token(APP_ID)))

    assert status == 401 and calls == []
    assert snapshot(validated.services.db) == before


async def test_an_address_outside_the_teams_hosts_is_refused_even_when_vouched_for(
        validated, login, offline, caplog):
    before = snapshot(validated.services.db)
    secret = "export my notes about the promotion case"
    activity = validated.teams.activity(validated.teams.user(JONAS), text=secret,
                                        serviceUrl=ATTACKER)

    status, calls = await validated.teams.post(activity,
                                               bearer(login.channel_token(APP_ID, ATTACKER)))

    assert status == 403 and calls == []
    assert snapshot(validated.services.db) == before
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert refusals == [("Teams request refused: service URL host attacker.example is not in "
                         "TEAMS_SERVICE_HOSTS")]
    assert not any(secret in r.getMessage() or "/bot/" in r.getMessage()
                   for r in caplog.records)


@pytest.mark.parametrize("service_url, allowed", [
    ("https://smba.trafficmanager.net/emea/", True),
    ("https://smba.infra.gcc.teams.microsoft.com/amer/", True),
    ("https://europe.webchat.botframework.com/", True),
    ("http://smba.trafficmanager.net/emea/", False),  # not https
    ("https://smba.trafficmanager.net:8443/emea/", False),
    ("https://smba.trafficmanager.net.attacker.example/", False),
    ("https://botframework.com.attacker.example/", False),
    ("https://attacker.example/smba.trafficmanager.net/", False),
    ("https://user@smba.trafficmanager.net/", False),
    ("https://127.0.0.1/", False),  # loopback only when listed
    ("https://[::1/", False),
])
def test_the_default_teams_hosts(service_url, allowed):
    from bot.teams.service_urls import ServiceUrls

    assert ServiceUrls.from_env({}, emulator=False).allows(service_url) is allowed


def test_a_sovereign_cloud_lists_its_own_hosts():
    from bot.teams.service_urls import ServiceUrls

    gov = ServiceUrls.from_env({"TEAMS_SERVICE_HOSTS": "*.teams.microsoft.us, "
                                                      "*.botframework.azure.us"}, emulator=False)
    assert gov.allows("https://smba.infra.gov.teams.microsoft.us/amer/")
    assert not gov.allows("https://smba.trafficmanager.net/emea/")


async def test_identities_keep_the_address_teams_vouched_for(validated, login, offline):
    activity = validated.teams.activity(validated.teams.user(JONAS), text="status")
    await validated.teams.post(activity, bearer(login.channel_token(APP_ID,
                                                                    validated.connector.url)))
    with validated.services.db.unit() as session:
        [identity] = session.exec(select(Identity)).all()
        assert identity.service_url == validated.connector.url
