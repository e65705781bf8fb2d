"""Benchmark: time-to-acknowledge of signed `/mentor log …` slash commands at a steady rate.

A real `python app.py serve` (Slack on, SLACK_API_URL at a fake Slack Web API in a process of
its own) gets signed slash commands open-loop: sends are scheduled at fixed intervals and never
wait for an earlier answer. Each command is a different mentee of a generated programme (matched
to a Slack user id in the fake's users table) logging a different date, so the work after the
ack is real: users.info, the engine's unit of work, the answer through response_url. Measured:
the HTTP response time of each command (Slack's three-second ack). Once on SQLite, once on a
fresh PostgreSQL database, and side by side a bare Bolt AsyncApp on aiohttp that only acks.

Targets: p99 ack under 100 ms at 100 requests/s; at most 1.5x the bare Bolt app.
    python bench/chat_latency.py [--rate 100] [--seconds 20] [--no-postgres]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (ROOT, CpuWatch, fresh_postgres, free_port,  # noqa: E402
                     generated_roster, import_roster, machine, percentile, stop, verdict,
                     wait_for_port)
from _fake_slack_server import slack_user  # noqa: E402

import aiohttp  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Meeting, Pair  # noqa: E402
from tests.fake_slack_api import APP_ID, SECRET, TEAM, TOKEN, signed  # noqa: E402

WARM_UP = 100  # commands at half the rate before each measurement, from other mentees
TARGET_P99_MS = 100.0
TARGET_RATIO = 1.5


@dataclass
class Run:
    name: str
    sent: int
    latencies: list[float]  # seconds, of the answers with status 200
    failures: int  # non-200 answers and errors
    lags: list[float]  # how late each send left against its schedule
    seconds: float  # first scheduled send to last answer
    replies: int = -1  # response_url answers the fake received (ours only)
    drained: float = 0.0  # last reply after the last ack (seconds)
    meetings: int = -1
    cpu: str = ""  # CPU used while the load ran

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000 if self.latencies else float("nan")


def command_body(user: int, text: str, response_url: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": TEAM, "team_domain": "nordlys", "channel_id": "C0GENERAL",
        "channel_name": "general", "user_id": slack_user(user), "user_name": f"mentee{user}",
        "command": "/mentor", "text": text, "api_app_id": APP_ID,
        "response_url": response_url, "trigger_id": f"{user}.{uuid.uuid4().hex}"})


def log_text(user: int, today: date, tag: str) -> str:
    day = today - timedelta(days=1 + user % 50)
    return f"log {day.isoformat()} 10:00 45m {tag} talked about note {user}"


async def load(url: str, users: range, rate: float, fake_url: str, tag: str,
               session: aiohttp.ClientSession) -> tuple[list, float]:
    """Open loop: command k leaves at start + k / rate, whether or not earlier ones answered."""
    today = datetime.now(timezone.utc).date()
    bodies = [command_body(u, log_text(u, today, tag), f"{fake_url}/respond/{tag}-{u}")
              for u in users]
    headers = [{"Content-Type": "application/x-www-form-urlencoded", **signed(b)} for b in bodies]
    loop = asyncio.get_running_loop()

    async def one(body: str, header: dict, due: float):
        """(status, seconds to the answer, how late it left, when the answer came)."""
        started = loop.time()
        try:
            async with session.post(url, data=body.encode(), headers=header) as response:
                await response.read()
                status = response.status
        except Exception:
            status = 0
        finished = loop.time()
        return status, finished - started, started - due, finished

    start = loop.time() + 0.05
    tasks = []
    for k, (body, header) in enumerate(zip(bodies, headers)):
        due = start + k / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(body, header, due)))
    return await asyncio.gather(*tasks), start


async def stats(session: aiohttp.ClientSession, stats_url: str) -> dict:
    async with session.get(stats_url) as response:
        return await response.json()


async def wait_replies(session, stats_url: str, expected: int, timeout: float = 120) -> dict:
    """Until the fake has `expected` response_url answers, or nothing new came for 15 s."""
    deadline, last, last_change = time.monotonic() + timeout, -1, time.monotonic()
    while time.monotonic() < deadline:
        seen = await stats(session, stats_url)
        count = seen["counts"].get("response_url", 0)
        if count >= expected:
            return seen
        if count != last:
            last, last_change = count, time.monotonic()
        elif time.monotonic() - last_change > 15:
            return seen
        await asyncio.sleep(0.25)
    return await stats(session, stats_url)


async def measure(name: str, port: int, users: range, warm: range, args, fake_url: str,
                  stats_url: str, replies: bool, watch: CpuWatch) -> Run:
    url = f"http://127.0.0.1:{port}/slack/events"
    tag = uuid.uuid4().hex[:6]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        before = (await stats(session, stats_url))["counts"].get("response_url", 0)
        await load(url, warm, args.rate / 2, fake_url, tag + "w", session)
        if replies:
            await wait_replies(session, stats_url, before + len(warm))
        await asyncio.sleep(1)
        before = (await stats(session, stats_url))["counts"].get("response_url", 0)
        watch.start()
        results, start = await load(url, users, args.rate, fake_url, tag, session)
        watch.stop()
        last_ack = max(finished for *_, finished in results)
        run = Run(name, len(results), [t for s, t, _, _ in results if s == 200],
                  sum(1 for s, *_ in results if s != 200), [lag for _, _, lag, _ in results],
                  last_ack - start, cpu=watch.line(["server", "fake Slack", "this bench"]))
        if replies:
            seen = await wait_replies(session, stats_url, before + len(users))
            run.replies = seen["counts"].get("response_url", 0) - before
            # the event loop's clock is time.monotonic(), the one the fake reports in
            run.drained = max(0.0, seen["last_response_at"] - last_ack)
    return run


def programme(folder: Path, pairs: int) -> Path:
    """The generated programme, running from 60 days ago to 240 days ahead (logs are valid)."""
    path = generated_roster(folder, pairs)
    today = datetime.now(timezone.utc).date()
    text = re.sub(r"(?m)^starts = .*$", f"starts = {today - timedelta(days=60)}",
                  path.read_text())
    text = re.sub(r"(?m)^ends = .*$", f"ends = {today + timedelta(days=240)}", text)
    path.write_text(text)
    return path


def prepare_database(url: str, folder: Path, pairs: int) -> None:
    db = Database(url)
    try:
        upgrade(db.engine)
        import_roster(db, programme(folder, pairs), datetime.now(timezone.utc))
        with db.engine.begin() as conn:  # no prompt is due during the run: chat is measured
            conn.execute(update(Pair).values(
                next_check_at=datetime.now(timezone.utc) + timedelta(days=30)))
    finally:
        db.dispose()


def meetings(url: str) -> int:
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(Meeting)).scalar()
    finally:
        db.dispose()


def start_process(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    handle = log.open("w")
    try:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    finally:
        handle.close()


def base_env(api_url: str, port: int) -> dict:
    env = {**os.environ, "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
           "SLACK_API_URL": api_url, "PORT": str(port), "CONSOLE_INBOX": "0"}
    for name in ("SLACK_APP_TOKEN", "MICROSOFT_APP_ID", "CLOCK_FILE", "ADMIN_TOKEN"):
        env.pop(name, None)
    return env


def ours(name: str, database_url: str, users: range, warm: range, args, fake_url: str,
         stats_url: str, folder: Path, fake_pid: int) -> Run:
    prepare_database(database_url, folder, warm.stop)
    port = free_port()
    env = {**base_env(fake_url + "/api/", port), "DATABASE_URL": database_url}
    server = start_process([sys.executable, "app.py", "serve"], env, folder / f"{name}.log")
    try:
        wait_for_port(port, server, path="/healthz")
        watch = CpuWatch([server.pid, fake_pid, os.getpid()])
        run = asyncio.run(measure(name, port, users, warm, args, fake_url, stats_url, True,
                                  watch))
    finally:
        stop(server)
    run.meetings = meetings(database_url)
    return run


def bare(users: range, warm: range, args, fake_url: str, stats_url: str, folder: Path,
         fake_pid: int) -> Run:
    port = free_port()
    server = start_process([sys.executable, "bench/_bare_bolt.py"],
                           base_env(fake_url + "/api/", port), folder / "bare.log")
    try:
        wait_for_port(port, server)
        watch = CpuWatch([server.pid, fake_pid, os.getpid()])
        return asyncio.run(measure("bare Bolt (ack only)", port, users, warm, args, fake_url,
                                   stats_url, False, watch))
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100, help="commands a second")
    parser.add_argument("--seconds", type=float, default=20, help="how long the load runs")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    count = int(args.rate * args.seconds)
    users, warm = range(count), range(count, count + WARM_UP)
    print(f"chat latency benchmark on {machine()}")
    print(f"  {count:,} signed `/mentor log …` commands, open loop at {args.rate:g}/s for "
          f"{args.seconds:g} s, each from a different mentee (after {WARM_UP} warm-up "
          f"commands at {args.rate / 2:g}/s); one run each")
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fake = subprocess.Popen([sys.executable, "bench/_fake_slack_server.py", "--mentees",
                                 str(warm.stop)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            words = fake.stdout.readline().split()
            if len(words) != 3:
                raise SystemExit("the fake Slack API did not start")
            fake_url = f"http://127.0.0.1:{words[1]}"
            stats_url = f"http://127.0.0.1:{words[2]}/stats"
            runs.append(bare(users, warm, args, fake_url, stats_url, folder, fake.pid))
            runs.append(ours("ours, SQLite", f"sqlite:///{folder / 'chat.db'}", users, warm,
                             args, fake_url, stats_url, folder, fake.pid))
            if not args.no_postgres:
                with fresh_postgres() as pg_url:
                    if pg_url:
                        runs.append(ours("ours, PostgreSQL", pg_url, users, warm, args,
                                         fake_url, stats_url, folder, fake.pid))
            counts = json.dumps(asyncio.run(_final_stats(stats_url))["counts"], sort_keys=True)
        finally:
            stop(fake)
    report(runs, args, counts)


async def _final_stats(stats_url: str) -> dict:
    async with aiohttp.ClientSession() as session:
        return await stats(session, stats_url)


def report(runs: list[Run], args, counts: str) -> None:
    print(f"  {'':<22} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'non-200':>8} {'send lag p99':>13}")
    for run in runs:
        print(f"  {run.name:<22} {run.rate:7.1f} {run.p(50):8.1f} {run.p(99):8.1f} "
              f"{max(run.latencies) * 1000:8.1f} {run.failures:8d} "
              f"{percentile(run.lags, 99) * 1000:10.1f} ms")
    for run in runs:
        print(f"  CPU during the load, {run.name}: {run.cpu}")
    base = runs[0]
    for run in runs[1:]:
        print(f"  {run.name}: replies through response_url {run.replies:,} of {run.sent:,}, "
              f"the last {run.drained:.1f} s after the last ack; meetings stored "
              f"{run.meetings:,} (warm-up included)")
        p99 = run.p(99)
        print(f"    p99 ack {p99:.1f} ms at {run.rate:.1f} req/s: "
              f"{verdict(p99 < TARGET_P99_MS, f'{p99 - TARGET_P99_MS:.1f} ms')} "
              f"the < {TARGET_P99_MS:.0f} ms goal")
        ratio50, ratio99 = run.p(50) / base.p(50), p99 / base.p(99)
        print(f"    ours / bare Bolt, time per request: {ratio50:.2f}x at the median "
              f"({verdict(ratio50 <= TARGET_RATIO, f'{ratio50 - TARGET_RATIO:.2f}x')} "
              f"the <= {TARGET_RATIO}x goal), {ratio99:.2f}x at p99")
    print(f"  fake Slack saw: {counts}")
    print("  (Bolt's listener runner looks for the ack every 10 ms, the floor of both apps; the "
          "database, the fake Slack API and this bench share the machine's cores)")


if __name__ == "__main__":
    main()
