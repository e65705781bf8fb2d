"""Benchmark: tests/e2e/test_replicas.py at scale. Three `app.py serve` replicas on one fresh
PostgreSQL database, 10,000 generated pairs (20,000 people) through simulated weeks on a shared
rehearsal clock (CLOCK_FILE), Teams chat arriving at all three (tests/fake_teams_connector).

Everyone installs the bot through whichever replica the "load balancer" picks; the clock moves
in 6-hour steps; at 10:00 UTC on weekdays every 7th mentee logs yesterday's meeting (every 21st
activity is retried at another replica, as Teams does); after each step the bench waits until
the replicas have ticked every due pair and settled every due delivery. Then it counts:
prompts delivered, posted twice, lost; meetings logged against meetings stored; wall time.

A month at 10,000 pairs takes far longer than this bench should (a first run covered 2.5
simulated days in 16 minutes on a 2-core machine), so it runs the first two days by default:
the installs, every kick-off and line-manager prompt, the first logged meetings (--days 30 runs
the month). It also stops early, and says so, once --budget seconds of wall time have passed.
    python bench/replicas.py [--pairs 10000] [--days 2] [--replicas 3] [--budget 1200]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (ROOT, CpuWatch, fresh_postgres, free_port, generated_roster,  # noqa: E402
                     import_roster, machine, stop, wait_for_port)

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from storage import outbox
from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Delivery, Meeting  # noqa: E402
from tests.fake_teams_connector import BOT_ID, FakeConnector, FakeTeams, teams_user  # noqa: E402

START = datetime(2026, 8, 31, 22, 0, tzinfo=timezone.utc)  # as in tests/e2e/test_replicas.py
STEP = timedelta(hours=6)


class LeanConnector(FakeConnector):
    """The test's fake connector, for 20,000 people: members found through an index, and the
    calls kept with only what is counted (their bodies shrunk to a line of text)."""

    def index(self) -> None:
        self._members = {}
        for user in self.users.values():
            self._members[user.id] = self._members[user.aad_object_id] = user

    async def _member(self, request: web.Request) -> web.Response:
        wanted = request.match_info["member"]
        self.lookups.append(wanted)
        user = self._members.get(wanted)
        if user is None:
            return web.json_response({"error": {"code": "MemberNotFoundInConversation"}},
                                     status=404)
        return web.json_response(user.member())

    def compact(self) -> None:
        for call in self.calls[getattr(self, "_compacted", 0):]:
            call.body = {"text": call.shown[:40]}
        self._compacted = len(self.calls)


def settled(db: Database, now: datetime) -> bool:
    with db.unit() as session:
        return outbox.settled(session, now)


async def until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"the replicas did not settle {what} within {timeout:.0f} s")


async def drive(args, db: Database, url: str, folder: Path) -> dict:
    connector = await LeanConnector().start()
    emails = [f"{role}{i}@example.org" for i in range(args.pairs) for role in ("mentor", "mentee")]
    connector.users.update({e: teams_user(e) for e in emails})
    connector.index()
    clock_file = folder / "clock"
    clock_file.write_text(START.isoformat())
    ports = [free_port() for _ in range(args.replicas)]
    env = {**os.environ, "DATABASE_URL": url, "CLOCK_FILE": str(clock_file),
           "TICK_SECONDS": "0.2", "CONSOLE_INBOX": "0", "LOG_LEVEL": "WARNING",
           "TEAMS_EMULATOR": "1"}
    for name in ("SLACK_BOT_TOKEN", "MICROSOFT_APP_ID", "ADMIN_TOKEN"):
        env.pop(name, None)
    logs = [(folder / f"replica{n}.log").open("w") for n in range(args.replicas)]
    replicas = []
    figures: dict = {"phases": {}}
    http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100),
                                 timeout=aiohttp.ClientTimeout(total=600))
    began = time.monotonic()
    try:
        for port, log in zip(ports, logs):
            replicas.append(subprocess.Popen(
                [sys.executable, "app.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=log))
        for port, replica in zip(ports, replicas):
            wait_for_port(port, replica, path="/healthz")
        watch = CpuWatch([r.pid for r in replicas])
        watch.start()
        urls = [f"http://127.0.0.1:{port}/api/messages" for port in ports]
        teams = FakeTeams(urls[0], connector, http)
        failures = Counter()

        async def post(n: int, activity: dict) -> None:
            async with http.post(urls[n % len(urls)], json=activity) as response:
                await response.read()
                if response.status != 200:
                    failures[response.status] += 1

        # Everyone installs the bot, through whichever replica the load balancer picks.
        phase = time.monotonic()
        installs = []
        for n, email in enumerate(emails):
            user = teams.user(email)
            installs.append(post(n, teams.activity(user, "conversationUpdate",
                                                   membersAdded=[user.account(), {"id": BOT_ID}])))
        await asyncio.gather(*installs)
        await until(lambda: settled(db, START), args.step_timeout, "the installs")
        connector.compact()
        figures["phases"]["installs"] = time.monotonic() - phase
        print(f"  … {len(emails):,} installs settled after {time.monotonic() - began:.0f} s",
              flush=True)

        now, logged, retried, steps = START, 0, 0, 0
        end = START + timedelta(days=args.days)
        phase = time.monotonic()
        while now < end:
            if time.monotonic() - began > args.budget:
                figures["stopped_early"] = True
                break
            now += STEP
            steps += 1
            clock_file.write_text(now.isoformat())
            if now.hour == 10 and now.weekday() < 5 and now.day > 1:  # mentees log meetings
                day = (now - timedelta(days=1)).date().isoformat()
                chats = []
                for i in range(0, args.pairs, 7):
                    mentee = teams.user(f"mentee{i}@example.org")
                    activity = teams.activity(mentee, text=f"log {day} 10:00 1h good talk")
                    chats.append(post(i, activity))
                    if i % 21 == 0:  # Teams retries the same activity at another replica
                        chats.append(post(i + 1, activity))
                        retried += 1
                await asyncio.gather(*chats)
                logged += len(range(0, args.pairs, 7))
            await until(lambda: settled(db, now), args.step_timeout, f"at {now:%Y-%m-%d %H:%M}")
            connector.compact()
            if steps % 4 == 0:
                print(f"  … simulated day {steps // 4} settled after "
                      f"{time.monotonic() - began:.0f} s", flush=True)
        figures["phases"]["simulated time"] = time.monotonic() - phase
        watch.stop()
        figures.update(simulated=now - START, steps=steps, logged=logged, retried=retried,
                       http_failures=dict(failures), cpu=watch.line(
                           [f"replica {n + 1}" for n in range(len(replicas))]))
        with db.engine.connect() as conn:
            figures["rows"] = conn.execute(select(
                Delivery.status, Delivery.platform_ref, Delivery.kind)).all()
            figures["meetings"] = conn.execute(select(func.count()).select_from(Meeting)).scalar()
    finally:
        await http.close()
        for replica in replicas:
            stop(replica)
        for log in logs:
            log.close()
        await connector.close()
    figures["wall"] = time.monotonic() - began
    figures["connector"] = connector
    figures["emails"] = len(emails)
    return figures


def report(args, f: dict, setup: float, folder: Path) -> None:
    connector: LeanConnector = f["connector"]
    rows = f["rows"]
    statuses = Counter(status for status, _, _ in rows)
    sent = [(ref, kind) for status, ref, kind in rows if status == "sent"]
    refs = {ref for ref, _ in sent}
    delivered = connector.delivered()
    posts = Counter(c.id for c in delivered)
    duplicated = sum(1 for ref in refs if posts[ref] > 1)
    lost = sum(1 for ref in refs if posts[ref] == 0) + statuses.get("claimed", 0)
    others = [c for c in delivered if c.id not in refs]  # chat answers: greetings, log replies
    expected_others = f["emails"] + f["logged"]
    days = f["simulated"] / timedelta(days=1)
    print(f"  simulated: {days:g} day{'' if days == 1 else 's'} in {f['steps']} steps of 6 h"
          + (f" (STOPPED EARLY: the {args.budget:g} s budget was spent; asked for {args.days:g}"
             " days)" if f.get("stopped_early") else
             ("" if args.days >= 30 else " (REDUCED from the month of tests/e2e/test_replicas.py"
              " to keep the run short; --days 30 runs the month)")))
    print(f"  prompts delivered: {len(sent):,} outbox rows sent to {len(set(refs)):,} connector "
          f"posts ({', '.join(f'{k} {v:,}' for k, v in Counter(k for _, k in sent).most_common(6))}"
          f"{', …' if len(Counter(k for _, k in sent)) > 6 else ''})")
    print(f"  outbox rows by status: "
          f"{', '.join(f'{k} {v:,}' for k, v in sorted(statuses.items()))}")
    print(f"  duplicates: {duplicated:,} prompts posted more than once; "
          f"chat answers {len(others):,} for {expected_others:,} expected "
          f"({f['emails']:,} greetings + {f['logged']:,} logs; "
          f"{len(others) - expected_others:+,})")
    drive_time = sum(f["phases"].values())
    print(f"  outbox throughput: {len(sent) / drive_time:.1f} rows sent a second, all replicas "
          f"together, over the {drive_time:.0f} s the replicas were driven")
    print(f"  lost: {lost:,} (rows sent that never reached the connector, or still claimed)")
    print(f"  meetings: {f['logged']:,} logged ({f['retried']:,} of them retried at another "
          f"replica), {f['meetings']:,} stored ({f['meetings'] - f['logged']:+,})")
    http_failures = f["http_failures"] or "none"
    print(f"  HTTP answers other than 200 from the replicas: {http_failures}")
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in f["phases"].items())
    print(f"  wall time: {f['wall']:.0f} s with {args.replicas} replicas ({phases}); "
          f"import and migrations {setup:.0f} s before that")
    print(f"  CPU while driven: {f['cpu']}")
    ok = duplicated == 0 and lost == 0 and f["meetings"] == f["logged"] \
        and len(others) == expected_others
    print(f"  exactly once: {'meets' if ok else 'MISSES'} the goal (no prompt twice, none lost, "
          "every logged meeting stored once, one answer per chat)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--days", type=float, default=2, help="simulated days (30: a month)")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1200,
                        help="stop moving the clock after this many seconds of wall time")
    parser.add_argument("--step-timeout", type=float, default=600,
                        help="give up if one step does not settle within this many seconds")
    args = parser.parse_args()
    print(f"replicas benchmark on {machine()}")
    print(f"  {args.replicas} `serve` replicas (TICK_SECONDS=0.2) on one fresh PostgreSQL "
          f"database, {args.pairs:,} generated pairs, Teams chat at all of them; one run")
    with tempfile.TemporaryDirectory() as tmp, fresh_postgres() as url:
        if url is None:
            print("  skipped: this benchmark needs PostgreSQL")
            return
        folder = Path(tmp)
        started = time.monotonic()
        db = Database(url)
        try:
            upgrade(db.engine)
            import_roster(db, generated_roster(folder, args.pairs), START)
            setup = time.monotonic() - started
            figures = asyncio.run(drive(args, db, url, folder))
        except TimeoutError as error:
            print(f"  FAILED: {error}")
            _tail_logs(folder)
            return
        finally:
            db.dispose()
        report(args, figures, setup, folder)
        _tail_logs(folder, only_errors=True)


def _tail_logs(folder: Path, only_errors: bool = False) -> None:
    for log in sorted(folder.glob("replica*.log")):
        lines = log.read_text(errors="replace").splitlines()
        if only_errors:
            lines = [line for line in lines if " ERROR " in line or "Traceback" in line]
        if lines:
            print(f"  {log.stem} log ({len(lines)} lines), last ones:")
            for line in lines[-5:]:
                print(f"    {line[:160]}")


if __name__ == "__main__":
    main()
