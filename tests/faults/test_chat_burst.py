"""Process fault: `serve` killed with SIGKILL during a burst of signed Slack slash commands.

Slack does not resend a command it got a 200 for, so an acknowledged command must survive the
kill: stored before the ack (the inbox), answered by the restarted process once the dead
process's claims time out (INBOX_CLAIM_SECONDS). Invariants, from the database and the fake
Slack API: every acknowledged `log` is stored exactly once (0 lost, 0 stored twice); a command
cut off mid-request may be stored or not, never twice; every acknowledged sender is answered
through their response_url. The test settles on the database's own state (the inbox empty),
not on a wall-clock budget; it gives up only when nothing has moved for STALL seconds.

The light version (SQLite, a few dozen commands) runs in `make test`: tests/e2e/test_chat_burst.py.
"""
from __future__ import annotations

import asyncio
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from storage import inbox
from storage.db import Database
from storage.migrate import upgrade
from storage.roster_file import read_programme
from storage.tables import Meeting
from tests.fake_slack_api import APP_ID, SECRET, TEAM, TOKEN, FakeSlack, signed
from tests.faults.conftest import roster
from tests.faults.serving import ClockFile, Serve, serve_env
from tests.helpers import import_programme

START = datetime(2026, 9, 8, 9, 0, tzinfo=timezone.utc)  # a Tuesday, a week into the programme
DAY = "2026-09-07"
STALL = 300  # seconds without any change in the inbox before the test gives up
SCENARIO = "process: SIGKILL during a chat burst"


def command(user: str, text: str, response_url: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": TEAM, "team_domain": "nordlys", "channel_id": "C0GENERAL",
        "channel_name": "general", "user_id": user, "user_name": user.lower(),
        "command": "/mentor", "text": text, "api_app_id": APP_ID, "response_url": response_url,
        "trigger_id": f"{uuid.uuid4().hex[:8]}.{uuid.uuid4().hex}"})


async def _inbox_empty(db: Database, server: Serve) -> None:
    """Until no request is pending or claimed; fails if the process exits or nothing moves."""
    loop = asyncio.get_running_loop()
    seen, since = None, loop.time()
    while True:
        assert server.alive, f"serve exited: {server.tail()}"
        with db.unit() as session:
            state = inbox.counts(session)
        if not state.get("pending") and not state.get("claimed"):
            return
        if state != seen:
            seen, since = state, loop.time()
        elif loop.time() - since > STALL:
            raise AssertionError(f"the inbox did not move for {STALL} s: {state}")
        await asyncio.sleep(0.1)


async def burst_with_a_kill(database_url: str, tmp_path: Path, *, senders: int, kill_at: int,
                            rate: float) -> dict:
    """`senders` mentees each send one `/mentor log …` at `rate` a second (open loop); after
    `kill_at` commands were acknowledged, SIGKILL; restart; wait for the inbox to drain."""
    db = Database(database_url)
    upgrade(db.engine)
    programme = roster(tmp_path / "programme", senders)
    import_programme(db, programme, now=START)
    mentees = [r.email for r in read_programme(programme).rows if r.role == "mentee"][:senders]
    ids = {email: f"U{n:07d}X" for n, email in enumerate(mentees)}
    fake = await FakeSlack(users={user: email for email, user in ids.items()}).start()
    clock = ClockFile(tmp_path / "clock", START)
    env = serve_env(database_url, clock, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
                    SLACK_API_URL=fake.api_url, SLACK_POSTS_PER_MINUTE="60000",
                    INBOX_CLAIM_SECONDS="3", TEAMS_EMULATOR="0")
    log = tmp_path / "serve.log"
    server = Serve(env, log).start()
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    acked: set[int] = set()
    killed = asyncio.Event()
    started = time.monotonic()
    try:
        await server.ready(http)
        url = f"{server.url}/slack/events"

        async def send(n: int, email: str) -> int:
            body = command(ids[email], f"log {DAY} 10:00 45m burst note {n}",
                           fake.response_url(f"burst{n}"))
            headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
            try:
                async with http.post(url, data=body.encode(), headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=60)) as response:
                    await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError, OSError):
                return 0
            if status == 200:
                acked.add(n)  # answered 200, even just before the kill: Slack will not resend
                if len(acked) >= kill_at and not killed.is_set():
                    killed.set()
                    server.kill()  # mid-burst: later sends find no one listening
            return status

        loop = asyncio.get_running_loop()
        begin, sends = loop.time(), []
        for n, email in enumerate(mentees):
            await asyncio.sleep(max(0.0, begin + n / rate - loop.time()))
            sends.append(asyncio.ensure_future(send(n, email)))
        statuses = await asyncio.gather(*sends)
        assert killed.is_set(), "the burst ended before the kill"
        server = Serve(env, log).start()
        await server.ready(http)
        await _inbox_empty(db, server)
        await asyncio.sleep(0.5)  # the last reply's POST, sent just before its row was done
    finally:
        await http.close()
        server.stop()
        await fake.stop()
    with db.unit() as session:
        notes = Counter(session.exec(select(Meeting.note)).all())
        counts = inbox.counts(session)
    db.dispose()
    stored = {n: notes[f"burst note {n}"] for n in range(len(mentees))}
    answered = Counter(call.params["_key"] for call in fake.to("response_url"))
    return dict(
        sent=len(mentees), acked=len(acked), not_acked=statuses.count(0),
        lost=[n for n in acked if stored[n] == 0],
        twice=[n for n, k in stored.items() if k > 1],
        unanswered=[n for n in acked if answered[f"burst{n}"] == 0],
        answered_twice=[n for n in acked if answered[f"burst{n}"] > 1],
        stored_not_acked=sum(1 for n, k in stored.items() if k and n not in acked),
        parked=counts.get("parked", 0), seconds=time.monotonic() - started,
        users_info=len(fake.to("users.info")))


def check(outcome: dict) -> None:
    assert outcome["acked"] > 0 and outcome["not_acked"] > 0, outcome
    assert outcome["lost"] == [], outcome
    assert outcome["twice"] == [], outcome
    assert outcome["unanswered"] == [], outcome
    assert outcome["parked"] == 0, outcome


@pytest.mark.faults
@pytest.mark.postgres
async def test_serve_killed_during_a_chat_burst_loses_no_acknowledged_command(
        fresh_postgres, tmp_path, figures):
    outcome = burst_with_a_kill(fresh_postgres, tmp_path, senders=400, kill_at=200, rate=200)
    outcome = await outcome
    figures.add(SCENARIO, faults=1, inputs=outcome["sent"], expected=outcome["acked"],
                delivered=outcome["acked"] - len(outcome["unanswered"]),
                duplicated=len(outcome["twice"]), lost=len(outcome["lost"]),
                seconds=outcome["seconds"],
                note=f"{outcome['acked']} acknowledged before the kill, "
                     f"{outcome['not_acked']} refused while down, "
                     f"{outcome['stored_not_acked']} stored but cut off before their 200; "
                     f"{len(outcome['answered_twice'])} answered twice")
    check(outcome)
