"""Malformed Teams bodies get 400, never 500 (issue 11, the Teams half of finding 6).

A body nested thousands deep raised RecursionError inside the JSON parser (a 500 with a
traceback); NUL characters or overlong ids reached the database, which PostgreSQL refuses (a 500
halfway through a turn). Each is refused before the SDK or the engine sees it: nothing stored,
nothing called, no traceback in the log.
"""
from __future__ import annotations

import json
import logging

import pytest

from tests.fake_teams_connector import serve_bot
from tests.helpers import import_programme, snapshot

JONAS = "jonas.berg@example.org"
VALIDATED = {"MICROSOFT_APP_ID": "00000000-0000-0000-0000-000000000001",
             "MICROSOFT_APP_PASSWORD": "x"}


@pytest.fixture
async def bot(database, clock):
    running = await serve_bot(database, clock)  # TEAMS_EMULATOR=1
    import_programme(running.services.db, now=clock.now())
    yield running
    await running.close()


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _deep_bodies(teams) -> dict[str, bytes]:
    activity = teams.activity(teams.user(JONAS), text="status")
    plain = json.dumps(activity)
    return {
        "a card value 5,000 deep": plain[:-1].encode() + b', "value": {"action": "snooze", '
        b'"value": ' + _nested(5000).encode() + b"}}",
        "channelData 3,000 deep": plain[:-1].encode() + b', "entities": ['
        + _nested(3000).encode() + b"]}",
        "a bare array 100,000 deep": _nested(100_000).encode(),
        "an object 50,000 deep": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    }


def _with(activity: dict, dotted: str, value: str) -> dict:
    target = activity
    *path, last = dotted.split(".")
    for name in path:
        target = target[int(name)] if isinstance(target, list) else target.setdefault(name, {})
    target[last] = value
    return activity


BAD_IDS = [
    ("id", "f:1\x00"),
    ("from.id", "29:jonas\x00"),
    ("from.aadObjectId", "\x00"),
    ("conversation.id", "a:personal-jonas\x00x"),
    ("recipient.id", "28:\x00bot"),
    ("replyToId", "1:\x00"),
    ("serviceUrl", "http://127.0.0.1:1/\x00"),
    ("channelData.tenant.id", "t\x00"),
    ("conversation.tenantId", "tenant\x00"),
    ("text", "log today 45m notes\x00"),
    ("from.aadObjectId", "a" * 5000),  # longer than any column that keeps it
    ("conversation.id", "a:" + "x" * 5000),
    ("id", "f:" + "1" * 500),
    ("from.id", "29:line\nbreak"),
]


async def _expect_bad_request(bot, body: bytes, caplog, headers: dict | None = None) -> None:
    before = snapshot(bot.services.db)
    async with bot.http.post(bot.teams.bot_url, data=body, headers={
            "Content-Type": "application/json", **(headers or {})}) as response:
        assert response.status == 400
        assert "Traceback" not in await response.text()
    assert bot.connector.calls == [] and bot.connector.lookups == []
    assert snapshot(bot.services.db) == before
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.mark.parametrize("case", ["a card value 5,000 deep", "channelData 3,000 deep",
                                  "a bare array 100,000 deep", "an object 50,000 deep"])
async def test_a_body_nested_thousands_deep_is_a_bad_request(bot, caplog, case):
    await _expect_bad_request(bot, _deep_bodies(bot.teams)[case], caplog)


@pytest.mark.parametrize("field, value", BAD_IDS, ids=[f"{f}:{len(v)}" for f, v in BAD_IDS])
async def test_nul_characters_and_overlong_ids_are_a_bad_request(bot, caplog, field, value):
    activity = _with(bot.teams.activity(bot.teams.user(JONAS), text="status"), field, value)
    await _expect_bad_request(bot, json.dumps(activity).encode(), caplog)


async def test_a_nul_in_a_new_members_id_is_a_bad_request(bot, caplog):
    user = bot.teams.user(JONAS)
    activity = bot.teams.activity(user, "conversationUpdate",
                                  membersAdded=[{"id": "29:jonas\x00"}, {"id": "28:bot"}])
    await _expect_bad_request(bot, json.dumps(activity).encode(), caplog)


async def test_with_token_validation_the_body_is_checked_before_the_sdk_sees_it(
        sqlite_database, clock, caplog):
    running = await serve_bot(sqlite_database, clock, env=VALIDATED)
    try:
        for body in _deep_bodies(running.teams).values():
            await _expect_bad_request(running, body, caplog, {"Authorization": "Bearer a.b.c"})
    finally:
        await running.close()


async def test_a_well_formed_activity_still_goes_through(bot):
    """The checks leave real activities alone: ids as Teams sends them, a card submit."""
    user = bot.teams.user(JONAS)
    activity = bot.teams.activity(user, text="status", id="1:1Xy-9_ab" + "c" * 40,
                                  entities=[{"type": "clientInfo", "locale": "da-DK",
                                             "country": "DK", "platform": "Web"}])
    status, calls = await bot.teams.post(activity)
    assert status == 200 and "Meetings held:" in calls[-1].text
