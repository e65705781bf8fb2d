"""Benchmark: the chat path of `serve` under load: time to acknowledge, time to answer, work
per command, and how many commands one and two processes answer a second.

A real `python app.py serve` (Slack on, SLACK_API_URL at a fake Slack Web API in a process of
its own) gets signed `/mentor log …` slash commands open loop: sends leave at fixed intervals
and never wait for an earlier answer. Each command in a phase is a different mentee of a
generated programme (a Slack user id in the fake's users table) logging a different date, so
the work after the ack is real: the inbox, users.info, the engine's unit of work, the answer
through response_url. Measured, for a bare Bolt app that only acks, ours on SQLite and ours on
PostgreSQL, in one run:
- ack p50/p99 at a steady rate (100/s) and in a burst (300/s for 10 s);
- ack → reply p50/p99 (the fake's response_url answer, same machine clock) at the steady rate;
- CPU ms of the serve process (with its engine turn processes) per command answered, from the first send until the last
  reply and the tick's look at every pair the commands logged (serve ticks every 30 s,
  as by default, once the chat is quiet: up to half a minute's wait per phase);
- commands answered per second with one and with two serve processes on PostgreSQL (a burst
  sent round robin to them, first send to last reply).

Goals: ack p99 < 100 ms everywhere and p50 <= 1.5x bare Bolt; >= 150 answered/s with two
processes; <= 5 ms CPU per command.
    python bench/chat_latency.py [--short] [--rate 100] [--seconds 20] [--burst-rate 300]
                                 [--burst-seconds 10] [--no-postgres]
`--short` is a smoke run of a few seconds per phase (figures from it are not the ones to quote).
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
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (ROOT, CpuWatch, fresh_postgres, tree_cpu_seconds,  # noqa: E402
                     free_port, generated_roster, import_roster, machine, percentile, stop,
                     verdict, wait_for_port)
from _fake_slack_server import slack_user  # noqa: E402

import aiohttp  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from storage.db import Database  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.tables import Meeting, Pair  # noqa: E402
from tests.fake_slack_api import APP_ID, SECRET, TEAM, TOKEN, signed  # noqa: E402

WARM_UP = 100  # commands at half the rate before the measurements, from other mentees
TARGET_P99_MS = 100.0
TARGET_RATIO = 1.5
TARGET_PROCESSED = 150.0
TARGET_CPU_MS = 5.0


@dataclass
class Run:
    name: str
    sent: int
    latencies: list[float]  # seconds, of the answers with status 200
    failures: int  # non-200 answers and errors
    lags: list[float]  # how late each send left against its schedule
    seconds: float  # first scheduled send to last answer
    replies: int = -1  # response_url answers the fake received (ours only)
    to_reply: list[float] = field(default_factory=list)  # ack → reply, seconds (ours only)
    drained: float = 0.0  # last reply after the last ack (seconds)
    cpu_ms: float = float("nan")  # serve CPU per answered command
    cpu: str = ""  # CPU used while the load ran

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def p(self, q: float) -> float:
        return percentile(self.latencies, q) * 1000 if self.latencies else float("nan")

    def reply_p(self, q: float) -> float:
        return percentile(self.to_reply, q) * 1000 if self.to_reply else float("nan")


@dataclass
class Throughput:
    processes: int
    commands: int
    answered: int
    seconds: float  # first send to last reply
    cpu_ms: float

    @property
    def rate(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def command_body(user: int, text: str, response_url: str) -> str:
    return urllib.parse.urlencode({
        "token": "legacy", "team_id": TEAM, "team_domain": "nordlys", "channel_id": "C0GENERAL",
        "channel_name": "general", "user_id": slack_user(user), "user_name": f"mentee{user}",
        "command": "/mentor", "text": text, "api_app_id": APP_ID,
        "response_url": response_url, "trigger_id": f"{user}.{uuid.uuid4().hex}"})


def log_text(user: int, today: date, tag: str, shift: int = 0) -> str:
    """A different day per mentee and per phase (`shift`), so no log repeats another."""
    day = today - timedelta(days=1 + (user + 7 * shift) % 50)
    hour = 8 + shift % 10
    return f"log {day.isoformat()} {hour}:00 45m {tag} talked about note {user}"


async def load(urls: list[str], users: range, rate: float, fake_url: str, tag: str,
               session: aiohttp.ClientSession, shift: int = 0) -> tuple[list, float]:
    """Open loop: command k leaves at start + k / rate, whether or not earlier ones answered,
    to urls[k % len(urls)]."""
    today = datetime.now(timezone.utc).date()
    bodies = [command_body(u, log_text(u, today, tag, shift), f"{fake_url}/respond/{tag}-{u}")
              for u in users]
    headers = [{"Content-Type": "application/x-www-form-urlencoded", **signed(b)} for b in bodies]
    loop = asyncio.get_running_loop()

    async def one(url: str, body: str, header: dict, due: float):
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
        tasks.append(asyncio.create_task(one(urls[k % len(urls)], body, header, due)))
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


async def phase(name: str, urls: list[str], users: range, rate: float, fake_url: str,
                stats_url: str, replies: bool, servers: list[int], others: list[int],
                shift: int, database_url: str = "") -> Run:
    """One open-loop load; with `replies`, waits for every answer and times ack → reply. With
    `database_url`, the CPU per command also counts the tick's look at every pair the commands
    logged (a log makes its pair due): measured once no pair is due any more."""
    tag = uuid.uuid4().hex[:6]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        before = (await stats(session, stats_url))["counts"].get("response_url", 0)
        watch = CpuWatch(servers + others, trees=frozenset(servers))
        cpu_before = [tree_cpu_seconds(pid) for pid in servers]
        watch.start()
        results, start = await load(urls, users, rate, fake_url, tag, session, shift)
        watch.stop()
        last_ack = max(finished for *_, finished in results)
        names = [f"server {n + 1}" for n in range(len(servers))] + ["fake Slack", "this bench"]
        run = Run(name, len(results), [t for s, t, _, _ in results if s == 200],
                  sum(1 for s, *_ in results if s != 200), [lag for _, _, lag, _ in results],
                  last_ack - start, cpu=watch.line(names))
        if replies:
            await wait_replies(session, stats_url, before + len(users))
            if database_url:
                await asyncio.to_thread(until_looked_at, database_url, servers)
            seen = await stats(session, f"{stats_url}?answers={tag}-")
            cpu = sum(tree_cpu_seconds(pid) - was for pid, was in zip(servers, cpu_before))
            answers = seen["answers"]
            run.replies = len(answers)
            acked = {f"{tag}-{u}": finished for u, (status, _, _, finished)
                     in zip(users, results) if status == 200}
            # the event loop's clock is time.monotonic(), the one the fake reports in
            run.to_reply = [answers[key] - at for key, at in acked.items() if key in answers]
            run.drained = max(0.0, max(answers.values(), default=last_ack) - last_ack)
            run.cpu_ms = cpu * 1000 / max(1, run.replies)
            run.seconds_to_last_reply = max(answers.values(), default=start) - start
    return run


def start_ours(name: str, database_url: str, fake_url: str, folder: Path,
               share_cores: int = 1) -> subprocess.Popen:
    """`share_cores`: serve processes on this machine; each runs its engine turns in its share
    of the cores (ENGINE_PROCESSES), as an operator would set for replicas on one machine."""
    port = free_port()
    env = {**base_env(fake_url + "/api/", port), "DATABASE_URL": database_url}
    if share_cores > 1 and not database_url.startswith("sqlite"):
        env["ENGINE_PROCESSES"] = str(max(1, (os.cpu_count() or 1) // share_cores))
    server = start_process([sys.executable, "app.py", "serve"], env, folder / f"{name}.log")
    server.port = port  # type: ignore[attr-defined]
    try:
        wait_for_port(port, server, path="/healthz")
    except BaseException:
        stop(server)
        raise
    return server


def url_of(server) -> str:
    return f"http://127.0.0.1:{server.port}/slack/events"


async def warm_up(urls: list[str], warm: range, rate: float, fake_url: str, stats_url: str,
                  replies: bool) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        before = (await stats(session, stats_url))["counts"].get("response_url", 0)
        await load(urls, warm, rate / 2, fake_url, "warm" + uuid.uuid4().hex[:4], session, 0)
        if replies:
            await wait_replies(session, stats_url, before + len(warm))
    await asyncio.sleep(1)


def steady_and_burst(name: str, url: str, plan: "Plan", fake_url: str, stats_url: str,
                     server_pid: int, fake_pid: int, replies: bool,
                     database_url: str = "") -> list[Run]:
    """The warm-up, then the steady and the burst phase, against one server at `url`."""
    urls, others = [url], [fake_pid, os.getpid()]

    async def both() -> list[Run]:
        await warm_up(urls, plan.warm, plan.rate, fake_url, stats_url, replies)
        runs = []
        for label, users, rate, shift in ((f"{plan.rate:g}/s", plan.steady, plan.rate, 1),
                                          (f"burst {plan.burst_rate:g}/s", plan.burst,
                                           plan.burst_rate, 2)):
            if runs:
                await asyncio.sleep(1)
            runs.append(await phase(f"{name}, {label}", urls, users, rate, fake_url, stats_url,
                                    replies, [server_pid], others, shift, database_url))
        return runs

    return asyncio.run(both())


def ours(name: str, database_url: str, plan: "Plan", fake_url: str, stats_url: str,
         folder: Path, fake_pid: int) -> list[Run]:
    """The steady and the burst phase against one serve process."""
    prepare_database(database_url, folder, plan.pool + WARM_UP)
    server = start_ours(name.replace(", ", "-"), database_url, fake_url, folder)
    try:
        return steady_and_burst(name, url_of(server), plan, fake_url, stats_url, server.pid,
                                fake_pid, True, database_url)
    finally:
        stop(server)


def bare(plan: "Plan", fake_url: str, stats_url: str, folder: Path, fake_pid: int) -> list[Run]:
    port = free_port()
    server = start_process([sys.executable, "bench/_bare_bolt.py"],
                           base_env(fake_url + "/api/", port), folder / "bare.log")
    try:
        wait_for_port(port, server)
        return steady_and_burst("bare Bolt", f"http://127.0.0.1:{port}/slack/events", plan,
                                fake_url, stats_url, server.pid, fake_pid, False)
    finally:
        stop(server)


def throughput(database_url: str, plan: "Plan", fake_url: str, stats_url: str, folder: Path,
               fake_pid: int) -> list[Throughput]:
    """Commands answered a second by one, then two serve processes on one PostgreSQL database
    (with one engine turn process each on a 2-core machine, two for the one): a burst sent
    round robin, timed from its first send to the last reply."""
    results = []
    for count, shift in ((1, 3), (2, 4)):
        no_prompts_due(database_url)
        servers = [start_ours(f"throughput-{count}-{n}", database_url, fake_url, folder,
                              share_cores=count) for n in range(count)]
        try:
            run = asyncio.run(phase(f"{count} process(es)", [url_of(s) for s in servers],
                                    plan.burst, plan.burst_rate, fake_url, stats_url, True,
                                    [s.pid for s in servers], [fake_pid, os.getpid()], shift,
                                    database_url))
        finally:
            for server in servers:
                stop(server)
        results.append(Throughput(count, run.sent, run.replies,
                                  getattr(run, "seconds_to_last_reply", 0.0), run.cpu_ms))
    return results


def night_zone(now: datetime) -> str:
    """A zone where it is about 02:00 at `now`, for everyone: the chat is measured, so what
    the tick finds due (a programme begun 60 days ago has its kickoffs due, a logged meeting
    its follow-ups) waits for working hours in every run, whatever the hour the bench starts
    (before, a run at 02:00 UTC found Singapore at work and its serve processes sent 750
    kickoffs in the middle of the measurements, one at 00:40 UTC none)."""
    hours = (2 - now.hour) % 24  # local = UTC + hours; Etc/GMT-N is UTC+N (POSIX signs)
    offset = hours - 24 if hours > 14 else hours
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/UTC"


def programme(folder: Path, pairs: int) -> Path:
    """The generated programme, running from 60 days ago to 240 days ahead (logs are valid),
    everyone in a zone where it is night (`night_zone`)."""
    path = generated_roster(folder, pairs, zone=night_zone(datetime.now(timezone.utc)))
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
    finally:
        db.dispose()
    no_prompts_due(url)


def no_prompts_due(url: str) -> None:
    """No pair is due for a look when a run starts: chat is measured. (A logged meeting makes
    its pair due, so without this the serve processes started for the throughput runs would
    begin with a tick over every pair the earlier phases logged for.)"""
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            conn.execute(update(Pair).values(
                next_check_at=datetime.now(timezone.utc) + timedelta(days=30)))
    finally:
        db.dispose()


def until_looked_at(url: str, servers: list[int], timeout: float = 90) -> None:
    """Until the tick has looked at every pair due (serve ticks once the chat is quiet) and
    the serve processes are idle again (what it proposed is sent): the next phase starts on
    a settled server, and this phase's CPU counts its follow-up."""
    db = Database(url)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with db.engine.connect() as conn:
                due = conn.execute(select(func.count()).select_from(Pair).where(
                    Pair.next_check_at <= datetime.now(timezone.utc))).scalar()
            if not due:
                break
            time.sleep(0.25)
        else:
            print(f"  (warning: {due} pairs still due {timeout:g} s after the last reply)")
    finally:
        db.dispose()
    while time.monotonic() < deadline:  # idle: under 5 % of a core over half a second
        before = sum(tree_cpu_seconds(pid) for pid in servers)
        time.sleep(0.5)
        if sum(tree_cpu_seconds(pid) for pid in servers) - before < 0.025 * len(servers):
            return


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


@dataclass
class Plan:
    rate: float
    seconds: float
    burst_rate: float
    burst_seconds: float

    @property
    def steady(self) -> range:
        return range(int(self.rate * self.seconds))

    @property
    def burst(self) -> range:
        return range(int(self.burst_rate * self.burst_seconds))

    @property
    def pool(self) -> int:
        return max(len(self.steady), len(self.burst))

    @property
    def warm(self) -> range:
        return range(self.pool, self.pool + WARM_UP)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=100, help="commands a second, steady")
    parser.add_argument("--seconds", type=float, default=20, help="how long the steady load runs")
    parser.add_argument("--burst-rate", type=float, default=300)
    parser.add_argument("--burst-seconds", type=float, default=10)
    parser.add_argument("--short", action="store_true",
                        help="a smoke run: 3 s steady, 2 s burst (not figures to quote)")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    if args.short:
        args.seconds, args.burst_seconds = 3, 2
    plan = Plan(args.rate, args.seconds, args.burst_rate, args.burst_seconds)
    print(f"chat latency benchmark on {machine()}")
    print(f"  signed `/mentor log …` commands, open loop, each from a different mentee: "
          f"{len(plan.steady):,} at {plan.rate:g}/s for {plan.seconds:g} s, then "
          f"{len(plan.burst):,} at {plan.burst_rate:g}/s for {plan.burst_seconds:g} s "
          f"(after {WARM_UP} warm-up commands); one run each"
          + (" [--short: a smoke run]" if args.short else ""))
    runs: list[Run] = []
    flows: list[Throughput] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        fake = subprocess.Popen([sys.executable, "bench/_fake_slack_server.py", "--mentees",
                                 str(plan.pool + WARM_UP)], cwd=ROOT, stdout=subprocess.PIPE,
                                text=True)
        try:
            words = fake.stdout.readline().split()
            if len(words) != 3:
                raise SystemExit("the fake Slack API did not start")
            fake_url = f"http://127.0.0.1:{words[1]}"
            stats_url = f"http://127.0.0.1:{words[2]}/stats"
            runs += bare(plan, fake_url, stats_url, folder, fake.pid)
            runs += ours("ours, SQLite", f"sqlite:///{folder / 'chat.db'}", plan, fake_url,
                         stats_url, folder, fake.pid)
            if not args.no_postgres:
                with fresh_postgres() as pg_url:
                    if pg_url:
                        runs += ours("ours, PostgreSQL", pg_url, plan, fake_url, stats_url,
                                     folder, fake.pid)
                        flows = throughput(pg_url, plan, fake_url, stats_url, folder, fake.pid)
            counts = json.dumps(asyncio.run(_final_stats(stats_url))["counts"], sort_keys=True)
        finally:
            stop(fake)
    report(runs, flows, counts)


async def _final_stats(stats_url: str) -> dict:
    async with aiohttp.ClientSession() as session:
        return await stats(session, stats_url)


def report(runs: list[Run], flows: list[Throughput], counts: str) -> None:
    print(f"  {'':<30} {'req/s':>7} {'ack p50':>8} {'ack p99':>8} {'max ms':>8} {'non-200':>8} "
          f"{'reply p50':>10} {'reply p99':>10} {'CPU ms/cmd':>11}")
    for run in runs:
        reply = (f"{run.reply_p(50):10.1f} {run.reply_p(99):10.1f} {run.cpu_ms:11.2f}"
                 if run.to_reply else f"{'-':>10} {'-':>10} {'-':>11}")
        print(f"  {run.name:<30} {run.rate:7.1f} {run.p(50):8.1f} {run.p(99):8.1f} "
              f"{max(run.latencies, default=float('nan')) * 1000:8.1f} {run.failures:8d} "
              f"{reply}")
    for run in runs:
        print(f"  CPU during the load, {run.name}: {run.cpu}")
    bases = {"steady": runs[0], "burst": runs[1]}
    for run in runs[2:]:
        base = bases["burst" if "burst" in run.name else "steady"]
        p99 = run.p(99)
        ratio50 = run.p(50) / base.p(50)
        print(f"  {run.name}: answered {run.replies:,} of {run.sent:,} (the last "
              f"{run.drained:.1f} s after the last ack); ack p99 {p99:.1f} ms "
              f"{verdict(p99 < TARGET_P99_MS, f'{p99 - TARGET_P99_MS:.1f} ms')} the "
              f"< {TARGET_P99_MS:.0f} ms goal; p50 {ratio50:.2f}x bare Bolt "
              f"{verdict(ratio50 <= TARGET_RATIO, f'{ratio50 - TARGET_RATIO:.2f}x')} the "
              f"<= {TARGET_RATIO}x goal; {run.cpu_ms:.2f} CPU ms per command "
              f"{verdict(run.cpu_ms <= TARGET_CPU_MS, f'{run.cpu_ms - TARGET_CPU_MS:.2f} ms')} "
              f"the <= {TARGET_CPU_MS:g} ms goal")
    for flow in flows:
        goal = "" if flow.processes < 2 else (
            f" {verdict(flow.rate >= TARGET_PROCESSED, f'{TARGET_PROCESSED - flow.rate:.0f}/s')}"
            f" the >= {TARGET_PROCESSED:.0f}/s goal")
        cpu = (f"{verdict(flow.cpu_ms <= TARGET_CPU_MS, f'{flow.cpu_ms - TARGET_CPU_MS:.2f} ms')}"
               f" the <= {TARGET_CPU_MS:g} ms goal")
        print(f"  PostgreSQL, {flow.processes} serve process(es): {flow.answered:,} of "
              f"{flow.commands:,} answered in {flow.seconds:.1f} s = {flow.rate:.0f}/s{goal}; "
              f"{flow.cpu_ms:.2f} CPU ms per command {cpu}")
    print(f"  fake Slack saw: {counts}")
    print("  (the database, the fake Slack API and this bench share the machine's cores; "
          "note `uptime` beside any figure)")


if __name__ == "__main__":
    main()
