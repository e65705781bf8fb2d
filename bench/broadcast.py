"""Benchmark: an announcement to 10,000 people through a Slack (or Teams) that enforces its limit.

The fake Slack Web API (tests/fake_slack_api.py) gets a workspace-wide token bucket on
chat.postMessage: N posts a second (a short burst allowed), HTTP 429 with Retry-After past it;
with --platform teams the fake Bot Connector (tests/fake_teams_connector.py) gets the same
bucket on new activities (N = 50 by default, Teams' per-app ceiling). The fake runs in a process
of its own (bench/_fake_limited_server.py), so its bucket sees each request when it arrives and
this process measures the bot alone; what was posted (and the 429s) is read from the fake's
/stats at the end. A generated programme of
5,000 pairs (10,000 people, all with an identity on that platform) is imported; the manager says
`announce everyone …` and `announce confirm` to the engine; then the outbox delivers through the
real messenger, wired as `serve` wires it (bot/web.make_app), paced just under the fake's limit
(pace × N: SLACK_POSTS_PER_MINUTE for Slack; the connector's app budget for Teams). A strict
pacer (no credit after a pause), the next batch prepared while the current one is sent, several
sends in flight, "sent" marks committed in small groups.

--replicas 2 runs two outboxes (two dispatchers with their own messenger and pacer, in this
process) on the same database, each with REPLICAS=2: each paces at half the budget (an explicit
per-replica share), and claims keep them from sending the same row.

Targets: at least 90 % of the allowed rate, nothing lost, nothing posted twice.
    python bench/broadcast.py            # Slack and Teams, one and two replicas, one run each
    python bench/broadcast.py --platform slack|teams [--replicas 1|2] [--rate N] [--burst 10]
                              [--pace 0.95] [--pairs 5000] [--postgres]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import (  # noqa: E402
    ROOT,
    CpuWatch,
    cpu_seconds,
    fresh_postgres,
    generated_roster,
    import_roster,
    machine,
    stop,
    verdict,
)
from sqlalchemy import func, insert, select  # noqa: E402

from bot.console.inbound import ref_for  # noqa: E402
from bot.routing import RoutingMessenger  # noqa: E402
from bot.teams.connector import Pacer as TeamsPacer  # noqa: E402
from bot.web import make_app  # noqa: E402
from conversations.messages import TextReceived  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Delivery, Identity, Person  # noqa: E402
from tests.fake_slack_api import SECRET, TEAM, TOKEN, dm_of  # noqa: E402
from tests.fake_teams_connector import EMULATOR, teams_user  # noqa: E402
from tests.fakes import plain  # noqa: E402

# A Tuesday, 10:00 in Copenhagen: inside everyone's working hours for the next seven hours.
START = datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc)
MANAGER = "manager@example.org"
PAUSE = 0.2  # seconds without a post that count as a pause in the stream
TEXT = ("Master class on giving feedback, Thursday in room 3. See you there, {{ first_name }}! "
        "(bench {n})")
DEFAULT_RATE = {"slack": 100.0, "teams": 50.0}


class RunningClock:
    """Rehearsal time that runs at the speed of the wall clock from START."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


def participants(db: Database) -> dict[int, str]:
    """Every participant's email (person id → email); the manager is left out."""
    with db.engine.connect() as conn:
        people = conn.execute(select(Person.id, Person.email)).all()
    return {pid: email for pid, email in people if email != MANAGER}


def add_identities(db: Database, rows: list[dict]) -> None:
    """As if each had written to the bot once: their id and their chat with the bot."""
    with db.engine.begin() as conn:
        for first in range(0, len(rows), 5000):
            conn.execute(insert(Identity), rows[first:first + 5000])


class FakePlatform:
    """The rate-limited fake in a process of its own (bench/_fake_limited_server.py): its
    bucket sees each request when it arrives, whatever this process is doing meanwhile. It runs
    at a higher scheduling priority where it may (it stands for Slack's or Microsoft's
    servers, which share no core with the bot)."""

    def __init__(self, platform: str, rate: float, burst: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "_fake_limited_server.py"), "--platform", platform,
             "--rate", f"{rate:g}", "--burst", str(burst)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=_higher_priority)
        words = (self.process.stdout.readline() or "").split()
        if len(words) < 3 or words[0] != "port":
            stop(self.process)
            raise SystemExit("the fake platform did not start")
        self.pid = self.process.pid
        self.port, self.stats_url = int(words[1]), f"http://127.0.0.1:{words[2]}/stats"
        self.url = f"http://127.0.0.1:{self.port}/"

    def stats(self) -> dict:
        with urllib.request.urlopen(self.stats_url, timeout=30) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        stop(self.process)


def _higher_priority() -> None:
    with contextlib.suppress(OSError):
        os.nice(-5)


def start_platform(args, db: Database) -> tuple[FakePlatform, dict[int, str], dict]:
    """The rate-limited fake, each participant's conversation there, and the env for make_app."""
    people = participants(db)
    fake = FakePlatform(args.platform, args.rate, args.burst)
    if args.platform == "slack":
        ids = {pid: f"U{pid:06d}" for pid in people}
        add_identities(db, [dict(person_id=pid, platform="slack", user_id=user, tenant_id=TEAM,
                                 conversation_id=dm_of(user), service_url="", updated_at=START)
                            for pid, user in ids.items()])
        env = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
               "SLACK_API_URL": fake.url + "api/",
               "SLACK_POSTS_PER_MINUTE": f"{per_minute(args):g}"}
        return fake, {pid: dm_of(user) for pid, user in ids.items()}, env
    users = {pid: teams_user(email) for pid, email in people.items()}
    add_identities(db, [dict(person_id=pid, platform="teams", user_id=user.aad_object_id,
                             tenant_id="", conversation_id=user.conversation_id,
                             service_url=fake.url, updated_at=START)
                        for pid, user in users.items()])
    return fake, {pid: user.conversation_id for pid, user in users.items()}, dict(EMULATOR)


def paced_teams(router, args) -> None:
    """The connector's app budget at pace × the fake's limit (serve keeps Teams' 50 a second),
    each replica at its share."""
    connector = router.messengers["teams"].connector
    # Counted over two seconds, so that each of two replicas gets an exact half (95 % of 50 a
    # second is 47.5: 95 per 2 s, 47 per 2 s each), not a whole number a second rounded down.
    per_two = max(int(2 * args.rate * args.pace), 1)
    connector.pacer = TeamsPacer(per_app=((per_two, 2.0),), replicas=args.replicas)


async def run(db: Database, args) -> dict:
    from app import build

    clock = RunningClock(START)
    fake, conversation_of, env = start_platform(args, db)
    replicas, routers = [], []
    try:
        for n in range(args.replicas):
            router = RoutingMessenger({}, None)
            routers.append(router)
            services = build(clock=clock, messenger=router, db=db, worker=f"bench-{n}")
            _app, banner = make_app(services, router, {**env, "REPLICAS": str(args.replicas)})
            live = f"{args.platform.capitalize()}: live"
            assert any(line.startswith(live) for line in banner), banner
            if args.platform == "teams":
                paced_teams(router, args)
            replicas.append(services)
        engine = replicas[0].engine

        def say(line: str) -> str:
            reply = engine.handle(TextReceived(ref_for(MANAGER), line, clock.now()))
            return " / ".join(plain(m.text) for m in reply.messages)

        preview = say("announce everyone " + TEXT.format(n=args.pairs))
        watch = CpuWatch([os.getpid(), fake.pid])
        watch.start()
        confirmed = say("announce confirm")
        started, cpu_at_start = time.monotonic(), cpu_seconds(os.getpid())
        expected = _count(db)
        rounds, deadline = 0, started + args.timeout
        while time.monotonic() < deadline:
            results = await asyncio.gather(*(r.dispatcher.run_once() for r in replicas))
            rounds += 1
            if _count(db, ("pending", "claimed")) == 0:
                break
            if all(r.sent == 0 and r.failed == 0 for r in results):
                await asyncio.sleep(0.5)  # only rows waiting for a retry are left
        finished, send_cpu = time.monotonic(), cpu_seconds(os.getpid()) - cpu_at_start
        watch.stop()
        with db.engine.connect() as conn:
            statuses = dict(conn.execute(
                select(Delivery.person_id, Delivery.status).where(Delivery.kind == "announcement")
            ).all())
            by_worker = Counter(conn.execute(select(Delivery.claimed_by).where(
                Delivery.kind == "announcement", Delivery.status == "sent")).scalars())
    finally:
        for router in routers:  # the messengers' HTTP sessions
            if "teams" in router.messengers:
                await router.messengers["teams"].connector.close()
            if "slack" in router.messengers:
                await router.messengers["slack"].close()
        try:
            seen = fake.stats()
        finally:
            fake.stop()
    posts = Counter(channel for _, channel in seen["ok_posts"])
    times = sorted(at for at, _ in seen["ok_posts"])
    steps = [b - a for a, b in zip(times, times[1:])]
    gaps = [step for step in steps if step > PAUSE]
    interval = 60 / per_minute(args)  # between two posts at the paced rate
    # What the window took beyond the paced schedule, less what the pauses took.
    late = sum(steps) - len(steps) * interval - sum(gap - interval for gap in gaps)
    lost = [pid for pid, status in statuses.items()
            if posts[conversation_of[pid]] == 0 and status != "failed"]
    return dict(
        preview=preview, confirmed=confirmed, expected=expected, recipients=len(conversation_of),
        delivered=sum(1 for pid in conversation_of if posts[conversation_of[pid]] > 0),
        duplicated=sum(1 for n in posts.values() if n > 1), lost=len(lost),
        failed=sum(1 for s in statuses.values() if s == "failed"),
        statuses=Counter(statuses.values()), limited=seen["limited"], ok_posts=len(times),
        window=(max(times) - min(times)) if len(times) > 1 else 0.0,
        first_post=(min(times) - started) if times else 0.0,
        total=finished - started, rounds=rounds, pauses=len(gaps), paused=sum(gaps), late=late,
        by_worker=by_worker, send_cpu=send_cpu, stalls=seen["stalls"],
        limited_at=seen["limited_at"],
        cpu=watch.line(["this process (the outbox and its HTTP client)", "the fake platform"]),
        timed_out=_count(db, ("pending", "claimed")) > 0)


def _count(db: Database, statuses: tuple[str, ...] = ()) -> int:
    with db.engine.connect() as conn:
        query = select(func.count()).select_from(Delivery).where(Delivery.kind == "announcement")
        if statuses:
            query = query.where(Delivery.status.in_(statuses))
        return conn.execute(query).scalar()


def per_minute(args) -> float:
    return round(args.rate * 60 * args.pace, 3)


def one_run(args) -> dict:
    """A fresh database, the roster, the broadcast; prints its figures and returns them."""
    unit = "chat.postMessage" if args.platform == "slack" else "new activities"
    scope = "workspace-wide" if args.platform == "slack" else "for the app"
    paced = (f"SLACK_POSTS_PER_MINUTE={per_minute(args):g}" if args.platform == "slack"
             else f"{max(int(2 * args.rate * args.pace), 1)} activities per 2 s")
    print(f"  {args.platform.capitalize()}, {args.replicas} replica(s): one announcement to "
          f"{2 * args.pairs:,} people ({args.pairs:,} generated pairs), fake limit {args.rate:g} "
          f"{unit}/s {scope} (burst {args.burst}); the bot paced at {paced} ({args.pace:.0%} of "
          f"it){', each replica at its half' if args.replicas == 2 else ''}; one run")
    with tempfile.TemporaryDirectory() as folder, \
            (fresh_postgres() if args.postgres else _no_postgres()) as pg_url:
        url = pg_url or f"sqlite:///{Path(folder) / 'broadcast.db'}"
        db = Database(url)
        upgrade(db.engine)
        setup = time.monotonic()
        import_roster(db, generated_roster(Path(folder), args.pairs, "Europe/Copenhagen"),
                      START - timedelta(days=1))
        print(f"    database: {'PostgreSQL' if pg_url else 'SQLite'}; roster imported in "
              f"{time.monotonic() - setup:.1f} s")
        try:
            r = asyncio.run(run(db, args))
        finally:
            db.dispose()
    rate = (r["ok_posts"] - 1) / r["window"] if r["window"] > 0 else 0.0
    overall = r["ok_posts"] / r["total"] if r["total"] > 0 else 0.0
    r["fraction"] = fraction = rate / args.rate
    print(f"    manager: {' '.join(r['preview'].split())[:100]}…")
    print(f"    manager: {' '.join(r['confirmed'].split())[:110]}")
    print(f"    delivery rows: {r['expected']:,} proposed; settled as "
          f"{', '.join(f'{k} {v:,}' for k, v in sorted(r['statuses'].items()))}"
          f"{' (TIMED OUT with rows still open)' if r['timed_out'] else ''}"
          + (f"; sent by {', '.join(f'{w} {n:,}' for w, n in sorted(r['by_worker'].items()))}"
             if args.replicas > 1 else ""))
    print(f"    delivered: {r['delivered']:,} of {r['recipients']:,} recipients "
          f"({r['ok_posts']:,} posts answered ok), failed (recorded): {r['failed']:,}")
    print(f"    duplicated: {r['duplicated']:,}   lost: {r['lost']:,}   "
          f"429s received: {r['limited']:,}")
    print(f"    achieved rate: {rate:.1f} posts/s between the first and the last post "
          f"({r['window']:.1f} s) = {fraction:.1%} of the allowed {args.rate:g}/s "
          f"({verdict(fraction >= 0.9, f'{0.9 - fraction:.1%} points')} the >= 90 % goal)")
    print(f"    end to end: {r['total']:.1f} s from `announce confirm` to the last row settled "
          f"({overall:.1f} posts/s; first post after {r['first_post']:.2f} s; "
          f"{r['rounds']} outbox rounds)")
    print(f"    pauses: the stream of posts stopped {r['pauses']} times for more than {PAUSE:g} s, "
          f"{r['paused']:.1f} s in all (posting at the paced rate alone would take "
          f"{r['ok_posts'] / (per_minute(args) / 60):.1f} s)")
    print(f"    small delays: {r['late']:.1f} s beyond the paced schedule outside the pauses "
          f"(posts late on their schedule: a busy loop or machine)")
    stalls = r["stalls"]
    print(f"    the fake's own event loop: {len(stalls)} stall(s) of more than 20 ms"
          + (f" (longest {1000 * max(stalls):.0f} ms)" if stalls else "")
          + " (a busy machine: requests queue unseen, then meet the bucket at once)")
    print(f"    CPU: {r['cpu']}")
    print(f"    CPU per message: {1000 * r['send_cpu'] / max(r['ok_posts'], 1):.2f} ms in this "
          f"process from `announce confirm`'s answer to the last row settled (claim, compose, "
          f"post, record)")
    r["once"] = r["lost"] == 0 and r["duplicated"] == 0
    print(f"    exactly once: {'meets' if r['once'] else 'MISSES'} the zero lost, zero "
          f"duplicated goal")
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--platform", choices=("slack", "teams"),
                        help="one platform (without it and --replicas: all four runs)")
    parser.add_argument("--replicas", type=int, choices=(1, 2),
                        help="outboxes sharing the database and the budget (each its share)")
    parser.add_argument("--rate", type=float, default=0,
                        help="posts a second the fake allows (default: Slack 100, Teams 50)")
    parser.add_argument("--burst", type=int, default=10, help="posts the fake allows at once")
    parser.add_argument("--pace", type=float, default=0.95,
                        help="the bot's pacing as a fraction of the fake's limit")
    parser.add_argument("--pairs", type=int, default=5000, help="pairs (2 recipients each)")
    parser.add_argument("--postgres", action="store_true",
                        help="a fresh PostgreSQL database instead of SQLite")
    parser.add_argument("--timeout", type=float, default=900, help="give up after (seconds)")
    args = parser.parse_args()
    logging.getLogger("bot.report.admin").setLevel(logging.ERROR)  # /admin is not served here
    print(f"broadcast benchmark on {machine()}")
    if args.platform is None and args.replicas is None:
        runs = [("slack", 1), ("slack", 2), ("teams", 1), ("teams", 2)]
    else:
        runs = [(args.platform or "slack", args.replicas or 1)]
    rate = args.rate
    summary = []
    for platform, replicas in runs:
        args.platform, args.replicas = platform, replicas
        args.rate = rate or DEFAULT_RATE[platform]
        r = one_run(args)
        summary.append((platform, replicas, args.rate, r))
    if len(summary) > 1:
        print("  summary: platform, replicas, allowed rate, achieved, lost, duplicated")
        for platform, replicas, allowed, r in summary:
            print(f"    {platform:5}  {replicas}  {allowed:5g}/s  {r['fraction']:6.1%}  "
                  f"{r['lost']:>4}  {r['duplicated']:>4}  "
                  f"{'meets' if r['fraction'] >= 0.9 and r['once'] else 'MISSES'} the goals")


class _no_postgres:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
