"""Three `serve` replicas on one PostgreSQL database share the tick, the outbox and the chat:
a few hundred pairs through a month of simulated time, chat arriving at all three, and
every prompt delivered exactly once, every logged meeting stored once."""
from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.simulation.run import _generated_programme
from storage import outbox
from storage.db import Database
from storage.tables import Delivery, Meeting
from tests.conftest import _truncate
from tests.fake_teams_connector import BOT_ID, FakeConnector, FakeTeams, teams_user
from tests.helpers import SAMPLE, import_programme

ROOT = Path(__file__).resolve().parents[2]
PAIRS = 200
START = datetime(2026, 8, 31, 22, 0, tzinfo=timezone.utc)

pytestmark = pytest.mark.postgres


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _until(check, timeout: float = 60) -> None:
    for _ in range(int(timeout / 0.1)):
        if check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the replicas did not settle in time")


def _settled(db: Database, now: datetime) -> bool:
    with db.unit() as session:
        return outbox.settled(session, now)


async def test_three_replicas_deliver_every_prompt_exactly_once(postgres_url, tmp_path):
    db = Database(postgres_url)
    _truncate(db)
    import_programme(db, _generated_programme(tmp_path, SAMPLE, PAIRS), now=START)
    connector = await FakeConnector().start()
    emails = [f"{role}{i}@example.org" for i in range(PAIRS) for role in ("mentor", "mentee")]
    connector.users.update({e: teams_user(e) for e in emails})
    clock_file = tmp_path / "clock"
    clock_file.write_text(START.isoformat())
    ports = [_port() for _ in range(3)]
    env = {**os.environ, "DATABASE_URL": postgres_url, "CLOCK_FILE": str(clock_file),
           "TICK_SECONDS": "0.2", "CONSOLE_INBOX": "0", "LOG_LEVEL": "WARNING"}
    for name in ("SLACK_BOT_TOKEN", "MICROSOFT_APP_ID"):
        env.pop(name, None)
    replicas = [subprocess.Popen([sys.executable, "app.py", "serve", "--port", str(port)],
                                 cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE) for port in ports]
    http = aiohttp.ClientSession()
    try:
        urls = [f"http://127.0.0.1:{port}/api/messages" for port in ports]
        for url in urls:
            await _until(lambda: _up(url), timeout=60)
        teams = FakeTeams(urls[0], connector, http)

        async def post(n: int, activity: dict) -> None:
            async with http.post(urls[n % 3], json=activity) as response:
                assert response.status == 200, await response.text()

        # Everyone installs the bot, through whichever replica the load balancer picks.
        installs = []
        for n, email in enumerate(emails):
            user = teams.user(email)
            installs.append(post(n, teams.activity(user, "conversationUpdate",
                                                   membersAdded=[user.account(), {"id": BOT_ID}])))
        await asyncio.gather(*installs)

        now, logged = START, 0
        while now < START + timedelta(days=30):
            now += timedelta(hours=6)
            clock_file.write_text(now.isoformat())
            if now.hour == 10 and now.weekday() < 5 and now.day > 1:  # mentees log meetings
                day = (now - timedelta(days=1)).date().isoformat()
                chats = []
                for i in range(0, PAIRS, 7):
                    mentee = teams.user(f"mentee{i}@example.org")
                    activity = teams.activity(mentee, text=f"log {day} 10:00 1h good talk")
                    chats.append(post(i, activity))
                    if i % 21 == 0:  # Teams retries the same activity at another replica
                        chats.append(post(i + 1, activity))
                await asyncio.gather(*chats)
                logged += len(range(0, PAIRS, 7))
            await _until(lambda: _settled(db, now), timeout=240)  # generous: CI may be busy
        with db.unit() as session:
            rows = session.exec(select(Delivery)).all()
            meetings = session.exec(select(func.count()).select_from(Meeting)).one()
    finally:
        await http.close()
        for replica in replicas:
            replica.terminate()
        for replica in replicas:
            try:
                replica.wait(timeout=30)
            except subprocess.TimeoutExpired:
                replica.kill()
                replica.wait()
        await connector.close()
        db.dispose()

    sent = [r for r in rows if r.status == "sent"]
    refs = {r.platform_ref for r in sent}  # the activity id the connector gave each post
    posts = Counter(c.id for c in connector.delivered())
    assert len(sent) > len(emails)  # kick-offs, line-manager prompts, chases, reflections...
    assert all(posts[ref] == 1 for ref in refs)  # each outbox message posted exactly once
    others = [c for c in connector.delivered() if c.id not in refs]
    # Everything else the connector saw answers chat: one greeting per install, one reply per
    # logged meeting (a retried activity gets no second answer).
    kinds = Counter(c.shown[:25] for c in others)
    assert len(others) == len(emails) + logged, kinds.most_common(8)
    assert meetings == logged  # retried chat activities stored once
    assert [r for r in rows if r.status == "claimed"] == []


def _up(url: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", int(url.split(":")[2].split("/")[0])), 0.2):
            return True
    except OSError:
        return False
