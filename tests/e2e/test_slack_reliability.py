"""Slack end to end: signatures, the 3-second ack, retries, rate limits and refusals by Slack."""
import asyncio
import re
import time
import urllib.parse
from pathlib import Path

import pytest
from sqlmodel import select

from app import build as build_services
from bot.routing import RoutingMessenger
from bot.slack import app as slack_app
from bot.slack.pacing import Pacer
from bot.web import make_app
from storage.tables import Agenda, Delivery
from tests.fake_slack_api import ID, SECRET, dm_of, signed, text_of, workspace
from tests.helpers import import_programme, snapshot

JONAS, GRACE = ID["jonas.berg@example.org"], ID["grace.okafor@example.org"]
ROOT = Path(__file__).resolve().parents[2]


def rows(services, table, *where):
    with services.db.unit() as session:
        return list(session.exec(select(table).where(*where)))


def command_body(slack, user: str, text: str) -> str:
    return urllib.parse.urlencode({"team_id": "T0NORDLYS", "user_id": user, "command": "/mentor",
                                   "text": text, "channel_id": "C0GENERAL",
                                   "response_url": slack.fake.response_url("raw"),
                                   "trigger_id": f"{time.time()}.2"})


async def test_bad_missing_or_stale_signatures_are_refused_before_any_work(database, clock):
    import_programme(database, now=clock.now())
    async with workspace(database, clock) as slack:
        before = snapshot(database)
        body = command_body(slack, JONAS, "agenda 1) please do not store me")
        form = "application/x-www-form-urlencoded"
        event = slack.event_body({"type": "message", "channel": dm_of(JONAS), "channel_type": "im",
                                  "user": JONAS, "text": "agenda 1) nor me", "ts": "1.0"})
        attempts = [
            (body, form, {**signed(body, secret="not-the-secret")}),
            (body, form, {}),
            (body, form, {"X-Slack-Request-Timestamp": str(int(time.time()))}),
            (body, form, signed(body, timestamp=int(time.time()) - 6 * 60)),  # replayed later
            (event, "application/json", {**signed(event), "X-Slack-Signature": "v0=" + "0" * 64}),
            (event, "application/json", signed(event, timestamp=int(time.time()) - 301)),
        ]
        for payload, content_type, headers in attempts:
            status, _, _ = await slack.send(payload, content_type, headers, sign=False)
            assert status == 401
        await slack.settle()
        assert slack.fake.calls == []  # not even auth.test
        assert snapshot(database) == before
        # The same request, properly signed, is served; so is Slack's check of the Request URL.
        status, _, _ = await slack.send(body, form)
        assert status == 200
        check = ('{"token": "legacy", "challenge": "3eZbrw1aBm2rZgRNFdxV", '
                 '"type": "url_verification"}')
        status, text, _ = await slack.send(check, "application/json")
        assert status == 200 and "3eZbrw1aBm2rZgRNFdxV" in text


async def test_a_burst_at_start_up_asks_slack_who_we_are_once(sqlite_database, clock):
    """The first requests after a start all need our workspace id (auth.test): however many
    arrive while it is being asked, it is asked once (it was asked by every one of them), and
    the answer serves commands and events alike."""
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        slack.fake.slow("auth.test", 0.3)
        people = [ID["jonas.berg@example.org"], ID["maja.kruse@example.org"],
                  ID["sofie.lund@example.org"], ID["grace.okafor@example.org"]]
        keys = await asyncio.gather(*(slack.command(person, "help") for person in people * 3))
        assert await slack.dm(JONAS, "status") == 200
        await slack.settle()
        assert len(slack.fake.to("auth.test")) == 1
        assert all(slack.fake.responses(key) for key in keys)


async def test_every_request_is_acked_before_the_slow_work(sqlite_database, clock):
    """users.info gets no answer until the test lets it: the HTTP answers must not wait for it
    (they come back while the lookups are still unanswered, however busy the machine)."""
    import_programme(sqlite_database, now=clock.now())
    async with workspace(sqlite_database, clock) as slack:
        await slack.send(command_body(slack, ID["maja.kruse@example.org"], "help"),
                         "application/x-www-form-urlencoded")  # Bolt's one-off auth.test
        await slack.settle()
        before = len(slack.fake.to("users.info"))
        lookups_answer = slack.fake.hold("users.info")
        key = await slack.command(JONAS, "status")
        status = await slack.dm(ID["sofie.lund@example.org"], "status")
        assert status == 200
        # Both acknowledged, and no lookup they started has had its answer yet.
        assert all(c.result == {} for c in slack.fake.to("users.info")[before:])
        lookups_answer.set()
        await slack.settle()
        [answer] = slack.fake.responses(key)
        assert "Meetings held" in text_of(answer)
        # Answers run several at a time, so Sofie's lookup may have been asked first.
        jonas = [c for c in slack.fake.to("users.info")[before:] if c.params["user"] == JONAS]
        assert jonas and all(c.result["ok"] for c in jonas)


async def test_a_retried_event_is_handled_once(database, clock):
    import_programme(database, now=clock.now())
    async with workspace(database, clock) as slack:
        for retry in ({}, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
                      {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}):
            status = await slack.dm(JONAS, "agenda 1) goals 2) saying no", event_id="Ev0AGENDA",
                                    headers=retry)
            assert status == 200
            await slack.settle()
        assert len(rows(slack.services, Agenda)) == 1
        assert len(slack.fake.posts_in(dm_of(JONAS))) == 1
        assert len(rows(slack.services, Delivery, Delivery.kind == "agenda")) == 1


async def test_429_waits_for_retry_after_then_delivers(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(hours=8, minutes=30)
    async with workspace(sqlite_database, clock) as slack:
        await slack.dm(JONAS, "help")
        await slack.settle()
        slack.fake.fail("chat.postMessage", status=429, retry_after=1, channel=dm_of(JONAS))
        await slack.services.pump()
        attempts = [c for c in slack.fake.to("chat.postMessage")
                    if c.params["channel"] == dm_of(JONAS)][1:]  # after the reply to "help"
        assert [c.status for c in attempts] == [429, 200]
        assert attempts[1].at - attempts[0].at >= 1.0
        [kickoff] = rows(slack.services, Delivery, Delivery.kind == "kickoff",
                         Delivery.person_id == 5)
        assert kickoff.status == "sent" and kickoff.attempts == 1


@pytest.mark.parametrize("method, error", [("chat.postMessage", "account_inactive"),
                                           ("conversations.open", "user_not_found")])
async def test_a_permanent_refusal_is_recorded_and_not_retried(database, clock, method, error):
    import_programme(database, now=clock.now())
    clock.advance(hours=8, minutes=30)
    async with workspace(database, clock) as slack:
        target = {"chat.postMessage": {"channel": dm_of(GRACE)},
                  "conversations.open": {"users": GRACE}}[method]
        slack.fake.fail(method, error=error, times=0, **target)
        await slack.services.pump()
        [kickoff] = rows(slack.services, Delivery, Delivery.kind == "kickoff",
                         Delivery.person_id == 4)
        assert (kickoff.status, kickoff.last_error, kickoff.attempts) == ("failed", error, 1)
        clock.advance(hours=3)
        await slack.services.pump()
        assert len([c for c in slack.fake.to(method)
                    if all(c.params.get(k) == v for k, v in target.items())]) == 1
        # Everyone else was reached.
        assert slack.fake.posts_in(dm_of(JONAS))


async def test_a_server_error_is_retried_later_by_the_outbox(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(hours=8, minutes=30)
    async with workspace(sqlite_database, clock) as slack:
        slack.fake.fail("chat.postMessage", status=500, channel=dm_of(GRACE))
        await slack.services.pump()
        [kickoff] = rows(slack.services, Delivery, Delivery.kind == "kickoff",
                         Delivery.person_id == 4)
        assert (kickoff.status, kickoff.last_error) == ("pending", "slack_http_500")
        clock.advance(minutes=2)
        await slack.services.pump()
        [kickoff] = rows(slack.services, Delivery, Delivery.kind == "kickoff",
                         Delivery.person_id == 4)
        assert kickoff.status == "sent"
        assert len(slack.fake.posts_in(dm_of(GRACE))) == 1


async def test_a_slash_command_in_a_channel_never_posts_in_the_channel(sqlite_database, clock):
    import_programme(sqlite_database, now=clock.now())
    clock.advance(days=2)
    async with workspace(sqlite_database, clock) as slack:
        key = await slack.command(JONAS, "log yesterday 14:00 1h we talked", channel="C0GENERAL")
        await slack.settle()
        [reply] = slack.fake.responses(key)
        assert reply["response_type"] == "ephemeral"
        # Its "Schedule next" button answers ephemerally too, then opens the modal.
        status, _ = await slack.press(JONAS, reply, "Schedule next", channel="C0GENERAL",
                                      ephemeral=True)
        assert status == 200
        await slack.settle()
        assert slack.fake.to("views.open")
        posted = {c.params["channel"] for c in slack.fake.to("chat.postMessage")}
        assert not any(channel.startswith("C") for channel in posted)


def test_configuration_and_banner_lines():
    assert not slack_app.configured({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert slack_app.configured({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"})
    line = slack_app.not_configured_line({})
    assert "Slack: off" in line and "SLACK_BOT_TOKEN" in line and "SLACK_SIGNING_SECRET" in line
    local = "http://127.0.0.1:1/api"
    assert slack_app.api_url({"SLACK_API_URL": local}) == local + "/"
    assert slack_app.api_url({}) == "https://slack.com/api/"


async def test_banner_names_socket_mode_when_an_app_token_is_set(sqlite_database, clock):
    router = RoutingMessenger({}, None)
    services = build_services(clock=clock, messenger=router, db=sqlite_database)
    _, banner = make_app(services, router, {"SLACK_BOT_TOKEN": "xoxb-1",
                                            "SLACK_SIGNING_SECRET": SECRET,
                                            "SLACK_APP_TOKEN": "xapp-1"})
    slack_line = next(line for line in banner if line.startswith("Slack"))
    assert "POST /slack/events" in slack_line and "Socket Mode" in slack_line
    assert router.messengers["slack"] is router.fallback
    _, banner = make_app(services, RoutingMessenger({}, None), {})
    assert any(line.startswith("Slack: off") for line in banner)


async def test_the_pacer_spaces_posts_per_channel_and_per_workspace():
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        now[0] += seconds

    pacer = Pacer(per_minute=120, burst=2, channel_interval=1.0, channel_burst=1,
                  monotonic=lambda: now[0], sleep=sleep)
    for channel in ("D1", "D2", "D3", "D4"):  # a broadcast: 2 per second after a burst of 2
        await pacer.wait(channel)
    assert slept == [0.5, 0.5]
    slept.clear()
    await pacer.wait("D4")  # one message a second in one channel
    assert slept == [pytest.approx(1.0, abs=0.01)]
    pacer.hold(5)  # a 429's Retry-After holds everyone
    slept.clear()
    await pacer.wait("D9")
    assert slept == [5.0]


def test_the_manifest_asks_for_what_the_bot_uses_and_no_more():
    manifest = (ROOT / "bot" / "slack" / "manifest.yml").read_text()
    scopes = re.search(r"bot:\n((?:\s+- .+\n)+)", manifest).group(1)
    assert sorted(s.strip("- ").strip() for s in scopes.strip().splitlines()) == [
        "chat:write", "commands", "files:write", "im:history", "im:write", "users:read",
        "users:read.email"]
    events = re.search(r"bot_events:\n((?:\s+- .+\n)+)", manifest).group(1)
    assert sorted(e.strip("- ").strip() for e in events.strip().splitlines()) == [
        "app_home_opened", "message.im"]
    assert "command: /mentor" in manifest and "home_tab_enabled: true" in manifest
    assert "messages_tab_enabled: true" in manifest and "is_enabled: true" in manifest
    assert manifest.count("https://YOUR-HOST/slack/events") == 3
