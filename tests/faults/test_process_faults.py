"""Process faults: `serve` (a real process, PostgreSQL, CLOCK_FILE) killed with SIGKILL at random
moments during a broadcast and during ticks, and restarted, FAULTS_KILLS times (5 by default).

Invariant: nothing is lost (after recovery every due delivery is sent, failed or skipped, and
the timeline proposed exactly what an uninterrupted run proposes), and only messages in flight at
the kill instants are duplicated: those whose post had gone out but whose "sent" mark had not
yet committed (several sends are in flight at once, and marks are committed in small groups).
Teams has no read-back, so such a message may go out twice; the bot counts each row it finds
claimed by a dead process as ambiguous, and duplicates must not exceed that count. Claims of a
killed process come back after CLAIM_TIMEOUT (10 minutes of the rehearsal clock), so the test
moves the CLOCK_FILE on after each restart.
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from sqlmodel import select

from app import build
from conversations.clock import FakeClock
from storage.db import Database
from storage.migrate import upgrade
from storage.outbox import CLAIM_TIMEOUT
from storage.people import person_by_email, remember_identity
from storage.roster_file import read_programme
from storage.tables import Delivery, Identity
from tests.fake_teams_connector import FakeConnector, FakeTeams, teams_user
from tests.fakes import RecordingMessenger
from tests.faults.conftest import roster
from tests.faults.serving import ClockFile, Serve, serve_env, settled, until
from tests.helpers import import_programme

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

PAIRS = 300  # 600 recipients of the broadcast
KILLS = int(os.environ.get("FAULTS_KILLS", "5"))
BROADCAST_KILLS = (KILLS + 1) // 2
START = datetime(2026, 8, 31, 8, 0, tzinfo=timezone.utc)  # Monday 10:00 in Copenhagen
STEPS = 56  # two weeks in 6-hour steps
RECOVER = CLAIM_TIMEOUT + timedelta(minutes=1)
TEXT = "Kick-off party on Thursday at 16:00, {{ first_name }}!"


@dataclass
class Kill:
    phase: str
    posted: int  # outbox messages the connector had received at the kill
    claimed: set[int]  # delivery rows the dead process had claimed and not settled
    persons: set[int]


def proactive(connector: FakeConnector) -> list:
    return [c for c in connector.calls if c.method == "POST" and c.activity_id == ""
            and 200 <= c.status < 300]


def claimed_rows(db: Database) -> tuple[set[int], set[int]]:
    with db.unit() as session:
        rows = session.exec(select(Delivery.id, Delivery.person_id)
                            .where(Delivery.status == "claimed")).all()
    return {r for r, _ in rows}, {p for _, p in rows}


async def reference_keys(programme, moments: list[datetime], tmp_path) -> set[str]:
    """What the timeline proposes without kills, at the same moments (in-process, SQLite)."""
    db = Database(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(db.engine)
    clock = FakeClock(moments[0])
    services = build(clock=clock, messenger=RecordingMessenger(), db=db, worker="reference")
    import_programme(db, programme, now=moments[0])
    for moment in moments:
        clock.set(moment)
        await services.pump()
    with db.unit() as session:
        keys = set(session.exec(select(Delivery.key)))
    db.dispose()
    return keys


async def test_serve_killed_during_a_broadcast_and_ticks_loses_nothing(fresh_postgres, tmp_path,
                                                                       figures):
    rng = random.Random(int(os.environ.get("FAULTS_SEED", "26")))
    started = time.monotonic()
    db = Database(fresh_postgres)
    programme = roster(tmp_path / "programme", PAIRS)
    import_programme(db, programme, now=START)
    connector = await FakeConnector().start()
    emails = [r.email for r in read_programme(programme).rows]
    connector.users.update({email: teams_user(email) for email in emails})
    with db.unit() as session:  # everyone added the bot in Teams before
        for email in emails:
            user = teams_user(email)
            remember_identity(session, person_by_email(session, email), platform="teams",
                              user_id=user.aad_object_id, now=START,
                              conversation_id=user.conversation_id, service_url=connector.url)
    clock = ClockFile(tmp_path / "clock", START)
    env = serve_env(fresh_postgres, clock)
    log = tmp_path / "serve.log"
    http = aiohttp.ClientSession()
    kills: list[Kill] = []
    server = Serve(env, log).start()

    async def kill_and_restart(phase: str) -> None:
        nonlocal server
        server.kill()
        claimed, persons = claimed_rows(db)
        kills.append(Kill(phase, len(proactive(connector)), claimed, persons))
        clock.set(clock.now + RECOVER)  # the dead process's claims time out
        server = Serve(env, log).start()
        await server.ready(http)

    try:
        await server.ready(http)
        teams = FakeTeams(f"{server.url}/api/messages", connector, http)
        manager = teams.user("manager@example.org")
        for line in (f"announce everyone {TEXT}", "announce confirm"):
            async with http.post(f"{server.url}/api/messages",
                                 json=teams.activity(manager, text=line)) as response:
                assert response.status == 200
        recipients = 2 * PAIRS

        # Kills during the broadcast, each when a random number of messages more has gone out.
        for _ in range(BROADCAST_KILLS):
            before = len(proactive(connector))
            target = before + rng.randint(1, max(1, (recipients - before) // 2))
            await until(lambda goal=target: len(proactive(connector)) >= goal, 120,
                        every=0.002, what="the broadcast to progress")
            await kill_and_restart("broadcast")
        await until(lambda: settled(db, clock.now), 240, what="the broadcast to settle")

        # Kills during ticks: the clock moves on in 6-hour steps. The first kill comes in the
        # kick-off wave (day 1, 10:00) once a random number of kick-offs has gone out; the
        # others at random steps, a random moment after the step (mid-tick or mid-delivery).
        during_ticks = KILLS - BROADCAST_KILLS
        tick_kills = [3, *rng.sample(range(4, STEPS), during_ticks - 1)] if during_ticks else []
        for step in range(STEPS):
            clock.set(clock.now + timedelta(hours=6))
            if step == 3 and step in tick_kills:
                goal = len(proactive(connector)) + rng.randint(1, recipients // 2)
                await until(lambda goal=goal: len(proactive(connector)) >= goal, 120,
                            every=0.002, what="the kick-off wave")
                await kill_and_restart("kick-off wave")
            elif step in tick_kills:
                await asyncio.sleep(rng.uniform(0.05, 0.6))
                await kill_and_restart("tick")
            await until(lambda: settled(db, clock.now), 240, what="a step to settle")
        assert server.alive
    finally:
        await http.close()
        server.stop()
        await connector.close()

    with db.unit() as session:
        rows = list(session.exec(select(Delivery)))
        owners = dict(session.exec(select(Identity.conversation_id, Identity.person_id)).all())
    db.dispose()
    now = clock.now
    posts = proactive(connector)
    posted = Counter(c.id for c in posts)
    sent = {r.platform_ref: r for r in rows if r.status == "sent"}
    due = [r for r in rows
           if r.status != "pending" or max(r.due_at, r.next_try_at or r.due_at) <= now]
    lost = [r for r in due if r.status in ("pending", "claimed")
            or (r.status in ("failed", "skipped") and not r.last_error)
            or (r.status == "sent" and posted[r.platform_ref] != 1)]
    duplicates = [c for c in posts if c.id not in sent]
    in_flight = set().union(*(k.persons for k in kills))
    counted = {r.person_id for r in rows if r.ambiguous}  # the bot's own count
    unexplained = [c for c in duplicates if owners.get(c.conversation_id) not in in_flight
                   or owners.get(c.conversation_id) not in counted]
    ambiguous = sum(1 for r in due if r.ambiguous)
    announced = [r for r in rows if r.kind == "announcement"]
    reference = await reference_keys(programme, clock.moments, tmp_path)
    proposed = {r.key for r in rows if not r.key.startswith("announce")}
    outcomes = Counter(f"{r.status}: {r.last_error.split(':')[0][:40]}" for r in due
                       if r.status in ("failed", "skipped"))

    figures.add("process: SIGKILL during broadcast + ticks", faults=len(kills),
                expected=len(due), delivered=sum(1 for r in due if r.status == "sent"),
                duplicated=len(duplicates), ambiguous=ambiguous,
                why=Counter({"killed between post and commit": len(duplicates)}),
                lost=len(lost), failed=sum(1 for r in due if r.status == "failed"),
                skipped=sum(1 for r in due if r.status == "skipped"),
                seconds=time.monotonic() - started,
                note="kills: " + "; ".join(f"{k.phase} after {k.posted} posts, {len(k.claimed)} "
                                           "claimed" for k in kills))
    figures.add("process: SIGKILL during broadcast + ticks",
                note=f"{len(duplicates)} duplicate(s) ≤ {ambiguous} rows found claimed by a "
                     "dead process: each posted before its 'sent' mark could commit")
    if outcomes:
        figures.add("process: SIGKILL during broadcast + ticks",
                    note="outcomes: " + ", ".join(f"{k}×{n}" for k, n in sorted(outcomes.items())))
    assert len(kills) == KILLS
    assert lost == [], [(r.id, r.kind, r.status, r.last_error) for r in lost[:10]]
    assert len(announced) == recipients and all(r.status == "sent" for r in announced)
    assert unexplained == [], [(c.id, c.conversation_id) for c in unexplained[:10]]
    assert len(duplicates) <= ambiguous
    assert proposed == reference, (sorted(reference - proposed)[:10],
                                   sorted(proposed - reference)[:10])
    assert len(due) > recipients + 2 * PAIRS  # the broadcast, kick-offs and more
