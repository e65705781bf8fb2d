"""Benchmark: an announcement to 10,000 people through a Slack that enforces its rate limit.

The fake Slack Web API (tests/fake_slack_api.py) gets a workspace-wide token bucket on
chat.postMessage: N posts a second (a short burst allowed), HTTP 429 with Retry-After past it.
A generated programme of 5,000 pairs (10,000 people, all with Slack identities) is imported;
the manager says `announce everyone …` and `announce confirm` to the engine; then the outbox
delivers through the real Slack messenger, wired as `serve` wires it (bot/slack/app.attach),
paced just under the fake's limit: SLACK_POSTS_PER_MINUTE = 60 × N × pace (0.95 by default;
pacing at exactly the limit meets a strict bucket with network jitter and collects 429s, each
holding every post back for Retry-After). The delivery loop is the
pump's delivery half (Dispatcher.run_once), run in this process until every row is settled.

Targets: at least 90 % of the allowed rate, nothing lost, nothing posted twice.
    python bench/broadcast.py [--rate 100] [--burst 10] [--pace 0.95] [--pairs 5000] [--postgres]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (CpuWatch, fresh_postgres, generated_roster,  # noqa: E402
                     import_roster, machine, verdict)
from aiohttp import web  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from bot.console.inbound import ref_for  # noqa: E402
from bot.routing import RoutingMessenger  # noqa: E402
from bot.web import make_app  # noqa: E402
from conversations.messages import TextReceived  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Delivery, Identity, Person  # noqa: E402
from tests.fake_slack_api import SECRET, TEAM, TOKEN, Call, FakeSlack, dm_of  # noqa: E402
from tests.fakes import plain  # noqa: E402

# A Tuesday, 10:00 in Copenhagen: inside everyone's working hours for the next seven hours.
START = datetime(2026, 9, 15, 8, 0, tzinfo=timezone.utc)
MANAGER = "manager@example.org"
PAUSE = 0.2  # seconds without a post that count as a pause in the stream
TEXT = ("Master class on giving feedback, Thursday in room 3. See you there, {{ first_name }}! "
        "(bench {n})")


class RunningClock:
    """Rehearsal time that runs at the speed of the wall clock from START."""

    def __init__(self, start: datetime) -> None:
        self.start, self.t0 = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0)


class RateLimitedSlack(FakeSlack):
    """chat.postMessage through one token bucket for the workspace: `rate` a second, `burst`
    at once; past it HTTP 429 with Retry-After (whole seconds, as Slack sends it)."""

    def __init__(self, users: dict[str, str], rate: float, burst: int) -> None:
        super().__init__(users)
        self.rate, self.burst = rate, burst
        self._tokens, self._refilled = float(burst), time.monotonic()
        self.limited = 0
        self.ok_posts: list[tuple[float, str]] = []  # (when, channel) of every post answered ok

    def _take(self) -> float:
        """0 if a token was taken, else the seconds until the next one."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "chat.postMessage":
            wait = self._take()
            if wait > 0:
                self.limited += 1
                self.calls.append(Call(method, {}, time.monotonic(), status=429))
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(max(1, math.ceil(wait)))})
        response = await super()._api(request)
        if method == "chat.postMessage" and response.status == 200:
            call = self.calls[-1]
            self.ok_posts.append((call.at, call.params.get("channel", "")))
        return response

    def _chat_postMessage(self, params: dict) -> dict:  # a lighter answer than the test fake's
        return {"ok": True, "channel": params.get("channel"), "ts": self._next_ts()}


def slack_ids(db: Database) -> dict[int, str]:
    """Every participant's Slack user id (person id → U…); the manager is left out."""
    with db.engine.connect() as conn:
        people = conn.execute(select(Person.id, Person.email)).all()
    return {pid: f"U{pid:06d}" for pid, email in people if email != MANAGER}


def add_identities(db: Database, ids: dict[int, str], at: datetime) -> None:
    """As if each had written to the bot once: their Slack id and their DM with the bot."""
    rows = [dict(person_id=pid, platform="slack", user_id=user, tenant_id=TEAM,
                 conversation_id=dm_of(user), service_url="", updated_at=at)
            for pid, user in ids.items()]
    with db.engine.begin() as conn:
        for first in range(0, len(rows), 5000):
            conn.execute(insert(Identity), rows[first:first + 5000])


async def run(db: Database, args) -> dict:
    clock = RunningClock(START)
    ids = slack_ids(db)
    add_identities(db, ids, START)
    with db.engine.connect() as conn:
        emails = dict(conn.execute(select(Person.id, Person.email)).all())
    fake = await RateLimitedSlack({user: emails[pid] for pid, user in ids.items()},
                                  args.rate, args.burst).start()
    try:
        from app import build

        router = RoutingMessenger({}, None)
        services = build(clock=clock, messenger=router, db=db, worker="bench")
        _app, banner = make_app(services, router, {
            "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": fake.api_url, "SLACK_POSTS_PER_MINUTE": f"{per_minute(args):g}"})
        assert any(line.startswith("Slack: live") for line in banner), banner

        def say(line: str) -> str:
            reply = services.engine.handle(TextReceived(ref_for(MANAGER), line, clock.now()))
            return " / ".join(plain(m.text) for m in reply.messages)

        preview = say("announce everyone " + TEXT.format(n=args.pairs))
        watch = CpuWatch([os.getpid()])
        watch.start()
        confirmed = say("announce confirm")
        started = time.monotonic()
        with db.engine.connect() as conn:
            rows = conn.execute(select(Delivery.id).where(Delivery.kind == "announcement")).all()
        expected = len(rows)
        rounds, deadline = 0, started + args.timeout
        while time.monotonic() < deadline:
            result = await services.dispatcher.run_once()
            rounds += 1
            open_rows = _open_rows(db)
            if open_rows == 0:
                break
            if result.sent == 0 and result.failed == 0:
                await asyncio.sleep(0.5)  # only rows waiting for a retry are left
        finished = time.monotonic()
        watch.stop()
        with db.engine.connect() as conn:
            statuses = dict(conn.execute(
                select(Delivery.person_id, Delivery.status).where(Delivery.kind == "announcement")
            ).all())
    finally:
        await fake.stop()
    posts = Counter(channel for _, channel in fake.ok_posts)
    times = sorted(at for at, _ in fake.ok_posts)
    gaps = [b - a for a, b in zip(times, times[1:]) if b - a > PAUSE]
    channel_of = {pid: dm_of(user) for pid, user in ids.items()}
    lost = [pid for pid, status in statuses.items()
            if posts[channel_of[pid]] == 0 and status != "failed"]
    return dict(
        preview=preview, confirmed=confirmed, expected=expected, recipients=len(ids),
        delivered=sum(1 for pid in ids if posts[channel_of[pid]] > 0),
        duplicated=sum(1 for n in posts.values() if n > 1), lost=len(lost),
        failed=sum(1 for s in statuses.values() if s == "failed"),
        statuses=Counter(statuses.values()), limited=fake.limited, ok_posts=len(times),
        window=(max(times) - min(times)) if len(times) > 1 else 0.0,
        first_post=(min(times) - started) if times else 0.0,
        total=finished - started, rounds=rounds, pauses=len(gaps), paused=sum(gaps),
        cpu=watch.line(["this process (outbox, Slack client, fake Slack)"]),
        timed_out=_open_rows(db) > 0)


def _open_rows(db: Database) -> int:
    from sqlalchemy import func

    with db.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Delivery).where(
            Delivery.kind == "announcement",
            Delivery.status.in_(("pending", "claimed")))).scalar()


def per_minute(args) -> float:
    return round(args.rate * 60 * args.pace, 3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100,
                        help="chat.postMessage calls a second the fake allows (workspace-wide)")
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
    print(f"  one announcement to {2 * args.pairs:,} people ({args.pairs:,} generated pairs), "
          f"fake Slack limit {args.rate:g} chat.postMessage/s workspace-wide (burst "
          f"{args.burst}); the bot paced at SLACK_POSTS_PER_MINUTE={per_minute(args):g} "
          f"({args.pace:.0%} of it); one run")
    with tempfile.TemporaryDirectory() as folder, \
            (fresh_postgres() if args.postgres else _no_postgres()) as pg_url:
        url = pg_url or f"sqlite:///{Path(folder) / 'broadcast.db'}"
        db = Database(url)
        upgrade(db.engine)
        setup = time.monotonic()
        import_roster(db, generated_roster(Path(folder), args.pairs, "Europe/Copenhagen"),
                      START - timedelta(days=1))
        print(f"  database: {'PostgreSQL' if pg_url else 'SQLite'}; roster imported in "
              f"{time.monotonic() - setup:.1f} s")
        try:
            r = asyncio.run(run(db, args))
        finally:
            db.dispose()
    rate = (r["ok_posts"] - 1) / r["window"] if r["window"] > 0 else 0.0
    overall = r["ok_posts"] / r["total"] if r["total"] > 0 else 0.0
    fraction = rate / args.rate
    print(f"  manager: {' '.join(r['preview'].split())[:100]}…")
    print(f"  manager: {' '.join(r['confirmed'].split())[:110]}")
    print(f"  delivery rows: {r['expected']:,} proposed; settled as "
          f"{', '.join(f'{k} {v:,}' for k, v in sorted(r['statuses'].items()))}"
          f"{' (TIMED OUT with rows still open)' if r['timed_out'] else ''}")
    print(f"  delivered: {r['delivered']:,} of {r['recipients']:,} recipients "
          f"({r['ok_posts']:,} posts answered ok), failed (recorded): {r['failed']:,}")
    print(f"  duplicated: {r['duplicated']:,}   lost: {r['lost']:,}   "
          f"429s received: {r['limited']:,}")
    print(f"  achieved rate: {rate:.1f} posts/s between the first and the last post "
          f"({r['window']:.1f} s) = {fraction:.1%} of the allowed {args.rate:g}/s "
          f"({verdict(fraction >= 0.9, f'{0.9 - fraction:.1%} points')} the >= 90 % goal)")
    print(f"  end to end: {r['total']:.1f} s from `announce confirm` to the last row settled "
          f"({overall:.1f} posts/s; first post after {r['first_post']:.2f} s; "
          f"{r['rounds']} outbox rounds)")
    print(f"  pauses: the stream of posts stopped {r['pauses']} times for more than {PAUSE:g} s, "
          f"{r['paused']:.1f} s in all (posting at the paced rate alone would take "
          f"{r['ok_posts'] / (per_minute(args) / 60):.1f} s)")
    print(f"  CPU: {r['cpu']}")
    goals = r["lost"] == 0 and r["duplicated"] == 0
    print(f"  exactly once: {'meets' if goals else 'MISSES'} the zero lost, zero duplicated goal")


class _no_postgres:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
