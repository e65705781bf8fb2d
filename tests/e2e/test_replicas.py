"""Three `serve` replicas on one PostgreSQL database share the tick, the outbox and the chat:
a few hundred pairs through a month of simulated time, chat arriving at all three, and
every prompt delivered exactly once, every logged meeting stored once.

A step ends when the database says so: no pair due a look, no delivery due or claimed, no
inbound request left in the inbox (acknowledged chat is answered by whichever replica's inbox
worker claims it)."""
from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.simulation.run import _generated_programme
from storage import inbox
from storage.db import Database
from storage.tables import Delivery, Meeting, Pair
from tests.conftest import _truncate
from tests.fake_teams_connector import BOT_ID, FakeConnector, FakeTeams, teams_user
from tests.faults.serving import ClockFile, Serve, serve_env, settled
from tests.helpers import SAMPLE, import_programme

PAIRS = 200
START = datetime(2026, 8, 31, 22, 0, tzinfo=UTC)
# No wall-clock budget: a step of simulated time is waited for as long as the replicas are
# alive and the database moves; the test gives up only when nothing has changed for this long.
STALL = 10 * 60

pytestmark = pytest.mark.postgres


def _progress(db: Database, now: datetime) -> tuple:
    """What the replicas have still to do at `now`, and what they have done (each look at a
    pair, claim, send or retry changes it)."""
    with db.unit() as session:
        due = session.exec(select(func.count()).select_from(Pair).where(
            Pair.next_check_at <= now, Pair.active)).one()
        rows = session.exec(select(Delivery.status, func.count(), func.sum(Delivery.attempts))
                            .group_by(Delivery.status)).all()
        chat = inbox.counts(session)
    return due, sorted(tuple(row) for row in rows), sorted(chat.items())


def _answered(db: Database) -> bool:
    with db.unit() as session:
        return inbox.open_count(session) == 0


async def _settle(db: Database, now: datetime, replicas: list[Serve]) -> None:
    """Until the database says nothing is left to do at `now` (outbox.settled); fails at once if
    a replica has exited, or when the database has not moved for STALL seconds."""
    loop = asyncio.get_running_loop()
    seen, since = None, loop.time()
    while not (settled(db, now) and _answered(db)):
        for replica in replicas:
            assert replica.alive, f"replica on port {replica.port} exited at {now}"
        state = _progress(db, now)
        if state != seen:
            seen, since = state, loop.time()
        elif loop.time() - since > STALL:
            raise AssertionError(f"nothing moved for {STALL} s at {now}: (pairs due a look, "
                                 f"[(status, rows, attempts)], inbox) = {state}")
        await asyncio.sleep(0.2)


async def test_three_replicas_deliver_every_prompt_exactly_once(postgres_url, tmp_path):
    db = Database(postgres_url)
    _truncate(db)
    import_programme(db, _generated_programme(tmp_path, SAMPLE, PAIRS), now=START)
    connector = await FakeConnector().start()
    emails = [f"{role}{i}@example.org" for i in range(PAIRS) for role in ("mentor", "mentee")]
    connector.users.update({e: teams_user(e) for e in emails})
    clock = ClockFile(tmp_path / "clock", START)  # replaced atomically: never read half-written
    env = serve_env(postgres_url, clock)
    # Each replica's output goes to its own file (a pipe nobody reads fills up and freezes the
    # replica), printed below, so a failure shows it.
    replicas = [Serve(env, tmp_path / f"replica-{n}.log").start() for n in range(3)]
    http = aiohttp.ClientSession()
    try:
        for replica in replicas:
            await replica.ready(http, timeout=STALL)  # fails at once if the replica exited
        urls = [f"{replica.url}/api/messages" for replica in replicas]
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
        await _settle(db, START, replicas)  # every install answered before time moves on

        now, logged = START, 0
        while now < START + timedelta(days=30):
            now = clock.advance(hours=6)
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
            await _settle(db, now, replicas)
        with db.unit() as session:
            rows = session.exec(select(Delivery)).all()
            meetings = session.exec(select(func.count()).select_from(Meeting)).one()
            parked = inbox.counts(session).get("parked", 0)
    finally:
        await http.close()
        for replica in replicas:
            replica.stop()
            print(f"--- replica on port {replica.port} ---\n{replica.tail(60)}")
        await connector.close()
        db.dispose()

    sent = [r for r in rows if r.status == "sent"]
    refs = {r.platform_ref for r in sent}  # the activity id the connector gave each post
    posts = Counter(c.id for c in connector.delivered())
    assert len(sent) > len(emails)  # kick-offs, line-manager prompts, chases, reflections...
    assert all(posts[ref] == 1 for ref in refs)  # each outbox message posted exactly once
    others = [c for c in connector.delivered() if c.id not in refs]
    # Everything else the connector saw answers chat: one greeting per install, one reply per
    # logged meeting (a retried activity gets no second answer); beyond that only an outbox
    # post whose answer was lost (the connector took it, the replica timed out on a loaded
    # machine) and that went again: the Bot Connector lets a bot read nothing back, and each
    # such attempt is counted on its delivery.
    kinds = Counter(c.shown[:25] for c in others)
    ambiguous = sum(r.ambiguous for r in rows)
    expected = len(emails) + logged
    assert expected <= len(others) <= expected + ambiguous, (ambiguous, kinds.most_common(8))
    assert meetings == logged  # retried chat activities stored once
    assert [r for r in rows if r.status == "claimed"] == []
    assert parked == 0  # no inbound request failed for good

