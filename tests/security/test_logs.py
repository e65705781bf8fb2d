"""What is logged: `app.py serve` at LOG_LEVEL=DEBUG, attacked and used, never logs what people wrote.

A unique marker is planted in every way a Slack request can be refused (bad signature, stale,
malformed, oversized, unknown user, refused command, another workspace, nobody listening) and in
a correctly signed ordinary command, then the whole output of the process is searched for it.
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import time
import urllib.parse
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from storage.db import Database
from storage.migrate import upgrade
from tests.fake_slack_api import (
    APP_ID,
    ID,
    SECRET,
    TEAM,
    TOKEN,
    FakeSlack,
    dm_of,
    event_body,
    signed,
)
from tests.faults.serving import Serve, until
from tests.helpers import import_programme

JONAS, STRANGER = ID["jonas.berg@example.org"], "U99STRANGER"
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
# How a log line starts: "2026-12-01 00:00:00,123 LEVEL name: ..." (see bot/logs.py).
LINE_START = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+: ")


@pytest.fixture
async def serving(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'mentor.db'}"
    db = Database(url)
    upgrade(db.engine)
    import_programme(db, now=datetime.now(UTC))
    db.dispose()
    fake = await FakeSlack().start()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "DEBUG", "TICK_SECONDS": "3600",
           "CONSOLE_INBOX": "0", "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": fake.api_url}
    for name in ("SLACK_APP_TOKEN", "MICROSOFT_APP_ID", "ADMIN_TOKEN", "CLOCK_FILE"):
        env.pop(name, None)
    server = Serve(env, tmp_path / "serve.log").start()
    async with aiohttp.ClientSession() as http:
        try:
            await server.ready(http)
            yield server, fake, http
        finally:
            server.stop()
            await fake.stop()


def command(fake: FakeSlack, user: str, text: str, key: str, team: str = TEAM, **extra) -> str:
    return urllib.parse.urlencode({
        "team_id": team, "team_domain": "nordlys", "channel_id": "C0GENERAL", "user_id": user,
        "user_name": user.lower(), "command": "/mentor", "text": text, "api_app_id": APP_ID,
        "response_url": fake.response_url(key), "trigger_id": f"{key}.{uuid.uuid4().hex}",
        **extra})


def event(user: str, text: str) -> str:
    return event_body({"type": "message", "channel": dm_of(user), "channel_type": "im",
                       "user": user, "text": text, "ts": f"{time.time():.6f}",
                       "client_msg_id": str(uuid.uuid4())})


async def post(http: aiohttp.ClientSession, server: Serve, body: str | bytes, content_type: str,
               headers: dict[str, str]) -> int:
    data = body.encode() if isinstance(body, str) else body
    async with http.post(f"{server.url}/slack/events", data=data,
                         headers={"Content-Type": content_type, **headers}) as response:
        await response.read()
        return response.status


async def test_no_request_body_or_user_text_reaches_the_log_at_debug(serving):
    server, fake, http = serving
    secret = f"PRIVATE{uuid.uuid4().hex}"
    forged = f"1999-01-01 00:00:00,000 ERROR bot.web: FORGED {secret}"
    note = f"agenda 1) {secret} my manager and I\n{forged}"
    now = int(time.time())
    unsigned_event = event(JONAS, note)
    signed_command = command(fake, JONAS, note, "plain")
    refusals = {
        "bad signature": (command(fake, JONAS, note, "bad"), FORM,
                          signed(command(fake, JONAS, note, "bad"), secret="guessed"), 401),
        "no signature": (unsigned_event, JSON, {}, 401),
        "signature of another body": (unsigned_event, JSON, signed(signed_command), 401),
        "stale": (signed_command, FORM, signed(signed_command, timestamp=now - 600), 401),
        "timestamp not a number": (signed_command, FORM,
                                   {"X-Slack-Request-Timestamp": secret,
                                    "X-Slack-Signature": "v0=" + "0" * 64}, 401),
        "raw line break, unsigned": ('{"type": "event_callback"}\n' + forged, JSON, {}, 401),
        "malformed, unsigned": ("payload={" + secret, FORM, {}, 401),
        "malformed, signed": ("payload={" + secret, FORM, signed("payload={" + secret), 400),
        "oversized": ("text=" + secret + "x" * 2_000_000, FORM,
                      signed("text=" + secret + "x" * 2_000_000), 413),
    }
    for what, (body, content_type, headers, expected) in refusals.items():
        status = await post(http, server, body, content_type, headers)
        assert status == expected, what

    signed_ones = {
        "ordinary command": command(fake, JONAS, note, "plain"),
        "unknown user": command(fake, STRANGER, note, "stranger"),
        "refused command": command(fake, JONAS, f"announce everyone {secret}\n{forged}", "refused"),
    }
    for what, body in signed_ones.items():
        assert await post(http, server, body, FORM, signed(body)) == 200, what
    dm = event(JONAS, note)
    assert await post(http, server, dm, JSON, signed(dm)) == 200
    unhandled = "payload=" + urllib.parse.quote(json.dumps({  # nobody listens to shortcuts
        "type": "shortcut", "callback_id": secret, "team": {"id": TEAM},
        "user": {"id": JONAS, "team_id": TEAM}, "trigger_id": "9.9", "api_app_id": APP_ID}))
    assert await post(http, server, unhandled, FORM, signed(unhandled)) in (200, 404)
    await until(lambda: {"plain", "stranger", "refused"} <= {
        c.params.get("_key") for c in fake.to("response_url")}, 600, what="three answers")
    await until(lambda: fake.posts_in(dm_of(JONAS)), 600, what="the DM answered")

    server.stop()
    output = server.log.read_text()
    assert "PRIVATE" not in output, [line for line in output.splitlines() if "PRIVATE" in line]
    assert "Traceback" not in output
    assert "DEBUG" in output  # it really logged at DEBUG
    for line in output.splitlines():
        assert "FORGED" not in line or not line.startswith("1999-01-01 00:00:00,000"), line
    logged = [line for line in output.splitlines() if LINE_START.match(line)]
    assert logged  # and each line that looks like a log line is one


async def test_a_newline_in_user_text_cannot_start_a_log_line(serving):
    """A refused request from another workspace is logged by its team id; a 'team id' carrying a
    line break and a forged line stays on the one line (or is not logged at all)."""
    server, fake, http = serving
    forged = "1999-01-01 00:00:00,000 ERROR bot.web: FORGED admin logged in"
    team = f"T0OTHER\n{forged}\r\x1b[2J"
    body = command(fake, JONAS, "status", "foreign", team=team)
    assert await post(http, server, body, FORM, signed(body)) == 403
    body = command(fake, JONAS, "status", "other", team="T0OTHER")
    assert await post(http, server, body, FORM, signed(body)) == 403
    await asyncio.sleep(0)
    server.stop()
    lines = server.log.read_text().splitlines()
    assert not any(line.startswith("1999-01-01 00:00:00,000") for line in lines), lines
    assert not any("\x1b" in line or "\r" in line for line in lines)
    assert any("T0OTHER" in line and "another workspace" in line for line in lines), lines
    assert fake.to("response_url") == []


def test_an_error_is_logged_by_type_and_place_on_one_line_never_its_message():
    """What the set-up in bot/logs.py does to a record: the same for every logger."""
    from bot.logs import FORMAT, OneLine

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(OneLine())
    log = logging.getLogger(f"bot.test_logs.{uuid.uuid4().hex}")
    log.addHandler(handler)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    secret = "PRIVATE agenda: saying no"
    try:
        try:
            int(secret)
        except ValueError as error:
            raise KeyError(f"{secret}\nFORGED line") from error
    except KeyError:
        log.exception("the tick failed for %s", "pair 7\n1999-01-01 FORGED\x1b[2J\u202e")
    log.getChild("slack_sdk").info("not ours, but under bot: kept %s", "\r\n")
    logging.getLogger("slack_sdk.web").addHandler(handler)
    logging.getLogger("slack_sdk.web").warning("Received a response: %s", secret)
    logging.getLogger("slack_sdk.web").removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert "PRIVATE" not in out.getvalue() and "\x1b" not in out.getvalue()
    here = "tests/security/test_logs.py:"
    first = lines[0].split(": ", 1)[1]
    assert first.startswith("the tick failed for pair 7\\n1999-01-01 FORGED\\x1b[2J\\u202e "
                            f"[KeyError at {here}"), first
    assert f"; from ValueError at {here}" in first and first.endswith(" (message withheld)]")
    assert lines[1].endswith("kept \\r\\n")
    assert "WARNING slack_sdk.web: withheld" in lines[2]
