"""Slack's door: the signature on the raw body first, then the body's shape, then the workspace.

Malformed bodies, signed or not, are answered 400/401 with nothing parsed before the signature
passed and no traceback; a correctly signed request from another workspace (or another
enterprise) is refused, changes nothing and is logged by its team id only.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.parse
import uuid

import pytest
from sqlmodel import select

from storage.tables import Agenda, Identity
from tests.fake_slack_api import APP_ID, ID, SECRET, TEAM, dm_of, event_body, workspace
from tests.helpers import import_programme, snapshot

JONAS = ID["jonas.berg@example.org"]
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
PRIVATE = "my manager keeps taking credit"

MALFORMED = {
    "payload={bad": ("payload={bad", FORM),
    "payload=null": ("payload=null", FORM),
    "a JSON list": ('[{"type": "event_callback"}]', JSON),
    "a payload that is a list": ("payload=" + urllib.parse.quote("[1, 2]"), FORM),
    "a payload that is a string": ("payload=" + urllib.parse.quote('"hello"'), FORM),
    "JSON cut short": ('{"type": "event_callback", "event": {', JSON),
    "nested ten thousand deep": (('{"a":' * 10_000) + "1" + ("}" * 10_000), JSON),
    "an event that is not an object": ('{"type": "event_callback", "event": "x"}', JSON),
    "actions that are not a list": ("payload=" + urllib.parse.quote(json.dumps(
        {"type": "block_actions", "user": {"id": JONAS}, "actions": "snooze"})), FORM),
    "authorizations that are text": (json.dumps({"type": "event_callback", "authorizations": "T0",
                                                 "event": {"type": "message"}}), JSON),
    "not UTF-8": (b"text=\xff\xfe" + PRIVATE.encode(), FORM),
}


def signature(body: bytes, stamp: str, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + digest.hexdigest()}


async def post(slack, body: str | bytes, content_type: str, headers: dict[str, str]) -> int:
    data = body.encode() if isinstance(body, str) else body
    async with slack.session.post(slack.url, data=data,
                                  headers={"Content-Type": content_type, **headers}) as response:
        await response.read()
        return response.status


def no_trouble_logged(caplog) -> None:
    troubled = [(r.name, r.levelname) for r in caplog.records
                if r.exc_info or r.levelno >= logging.ERROR]
    assert troubled == []


@pytest.mark.parametrize("what", list(MALFORMED))
async def test_a_malformed_body_is_refused_without_parsing_or_a_traceback(
        sqlite_database, clock, caplog, what):
    caplog.set_level(logging.DEBUG)
    import_programme(sqlite_database, now=clock.now())
    body, content_type = MALFORMED[what]
    raw = body.encode() if isinstance(body, str) else body
    async with workspace(sqlite_database, clock) as slack:
        before = snapshot(sqlite_database)
        assert await post(slack, raw, content_type, {}) == 401  # unsigned: not even parsed
        now = str(int(time.time()))
        expected = 401 if what == "not UTF-8" else 400  # Slack signs only UTF-8
        assert await post(slack, raw, content_type, signature(raw, now)) == expected
        await slack.settle()
        assert slack.fake.calls == [] and snapshot(sqlite_database) == before
    no_trouble_logged(caplog)


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("stamp", ["soon", "", "1e9", "now in full-width digits", "9" * 400])
async def test_a_timestamp_that_is_not_a_number_is_refused(sqlite_database, clock, caplog, stamp):
    """Signed over that very timestamp or not at all: 401, never 500 (nor accepted)."""
    caplog.set_level(logging.DEBUG)
    if stamp.startswith("now"):
        stamp = str(int(time.time())).translate(FULL_WIDTH)
    async with workspace(sqlite_database, clock) as slack:
        body = urllib.parse.urlencode({"team_id": TEAM, "user_id": JONAS, "command": "/mentor",
                                       "text": "status"}).encode()
        assert await post(slack, body, FORM, signature(body, stamp)) == 401
        assert await post(slack, body, FORM, {"X-Slack-Request-Timestamp": stamp}) == 401
        assert slack.fake.calls == []
    no_trouble_logged(caplog)


# -- another workspace ---------------------------------------------------------------------------

def command(slack, text: str, key: str, **fields: str) -> str:
    return urllib.parse.urlencode({
        "team_id": TEAM, "team_domain": "elsewhere", "channel_id": "C0GENERAL", "user_id": JONAS,
        "user_name": "jonas", "command": "/mentor", "text": text, "api_app_id": APP_ID,
        "response_url": slack.fake.response_url(key), "trigger_id": f"1.{uuid.uuid4().hex}",
        **fields})


def dm(team: str, text: str) -> str:
    return event_body({"type": "message", "channel": dm_of(JONAS), "channel_type": "im",
                       "user": JONAS, "team": team, "text": text, "ts": f"{time.time():.6f}"},
                      team=team)


def press(team: str, user_team: str) -> str:
    return "payload=" + urllib.parse.quote(json.dumps({
        "type": "block_actions", "api_app_id": APP_ID, "team": {"id": team},
        "user": {"id": JONAS, "team_id": user_team}, "trigger_id": f"2.{uuid.uuid4().hex}",
        "container": {"type": "message", "channel_id": dm_of(JONAS), "message_ts": "1.1"},
        "channel": {"id": dm_of(JONAS)},
        "actions": [{"action_id": "snooze", "value": "56", "block_id": "b", "action_ts": "1.2"}]}))


def identities(db) -> list[tuple[str, str]]:
    with db.unit() as session:
        return [(i.user_id, i.tenant_id) for i in session.exec(select(Identity))]


async def test_a_signed_request_from_another_workspace_is_refused_and_changes_nothing(
        database, clock, caplog):
    caplog.set_level(logging.DEBUG)
    import_programme(database, now=clock.now())
    async with workspace(database, clock) as slack:
        key = await slack.command(JONAS, "status")  # Jonas, known from our own workspace
        await slack.settle()
        assert slack.fake.responses(key)
        before, calls = snapshot(database), len(slack.fake.calls)
        assert identities(database) == [(JONAS, TEAM)]
        caplog.clear()
        foreign = {
            "another team": (command(slack, f"agenda 1) {PRIVATE}", "t", team_id="T0OTHER"),
                             FORM),
            "another enterprise": (command(slack, f"agenda 1) {PRIVATE}", "e",
                                           enterprise_id="E0OTHER"), FORM),
            "a DM event from another team": (dm("T0OTHER", f"agenda 1) {PRIVATE}"), JSON),
            "a press by someone of another team": (press(TEAM, "T0OTHER"), FORM),
        }
        for what, (body, content_type) in foreign.items():
            status, _, _ = await slack.send(body, content_type)
            assert status == 403, what
        await slack.settle()
        assert len(slack.fake.calls) == calls  # nothing answered, nobody looked up
        assert snapshot(database) == before
        assert identities(database) == [(JONAS, TEAM)]  # the stored team is still ours
        refusals = [r.getMessage() for r in caplog.records if "another workspace" in r.getMessage()]
        assert len(refusals) == len(foreign)
        assert all("T0OTHER" in line or "E0OTHER" in line for line in refusals), refusals
        assert not any(PRIVATE in r.getMessage() or JONAS in r.getMessage()
                       for r in caplog.records)
        # The same agenda from our own workspace is taken.
        await slack.command(JONAS, f"agenda 1) {PRIVATE}")
        await slack.settle()
        with database.unit() as session:
            assert len(list(session.exec(select(Agenda)))) == 1
