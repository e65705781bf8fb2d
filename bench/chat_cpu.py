"""Micro-benchmark: CPU of the serve side per `/mentor log …` command, in-process, with a profile.

The serve side (Bolt, the inbox, the engine, the reply) runs in this process; the fake Slack
API and the load (signed slash commands, open loop) run in processes of their own, so this
process's CPU time is the serve side's alone. Each command is a different mentee, as in
bench/chat_latency.py; `--known` sends a second round from the same mentees (matched already).

    python bench/chat_cpu.py [--postgres] [--commands 300] [--rate 50] [--known]
                             [--profile FILE.prof]

With `--profile`, the event loop and every worker thread run under cProfile and the combined
profile is written to FILE.prof (read it with `python -m pstats`), with the top lines printed.
Profiled figures are inflated by the profiler; quote the unprofiled ones.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import pstats
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
from _common import ROOT, free_port, fresh_postgres, machine, stop

WARM = 30


class ProfiledPool(ThreadPoolExecutor):
    """A thread pool whose threads each run under a cProfile of their own."""

    profiles: list[cProfile.Profile] = []
    _lock = threading.Lock()
    _local = threading.local()

    def submit(self, fn, /, *args, **kwargs):
        def profiled():
            profile = getattr(self._local, "profile", None)
            if profile is None:
                profile = self._local.profile = cProfile.Profile(time.thread_time)
                with self._lock:
                    self.profiles.append(profile)
            profile.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                profile.disable()

        return super().submit(profiled)


def client(argv: list[str]) -> None:
    """The load, in a process of its own: `--client URL FAKE_URL TAG FIRST COUNT RATE`."""
    from chat_latency import load

    url, fake_url, tag, first, count, rate, shift = argv
    users = range(int(first), int(first) + int(count))

    async def run() -> None:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            results, _ = await load([url], users, float(rate), fake_url, tag, session,
                                    int(shift))
        print(json.dumps(sorted(status for status, *_ in results)[:1] + [len(results)]))

    asyncio.run(run())


async def replies(stats_url: str, tag: str, expected: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(f"{stats_url}?answers={tag}-") as response:
                seen = len((await response.json())["answers"])
            if seen >= expected:
                return seen
            await asyncio.sleep(0.05)
    return seen


class Statements:
    """SQL statements and commits of the serve side, counted from `reset()` (a figure that
    does not move with the machine's load, unlike CPU time)."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.statements = self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def reset(self) -> None:
        self.statements = self.commits = 0

    def _statement(self, *_args) -> None:
        self.statements += 1

    def _commit(self, *_args) -> None:
        self.commits += 1


async def measure(url: str, args, profile: bool) -> list[tuple]:
    from chat_latency import base_env

    from app import SystemClock, build
    from bot.routing import RoutingMessenger
    from bot.web import INBOX, make_app
    from storage.db import Database

    fake = subprocess.Popen([sys.executable, "bench/_fake_slack_server.py", "--mentees",
                             str(2 * args.commands + WARM)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    runner = None
    try:
        words = fake.stdout.readline().split()
        fake_url = f"http://127.0.0.1:{words[1]}"
        stats_url = f"http://127.0.0.1:{words[2]}/stats"
        port = free_port()
        env = {k: v for k, v in base_env(fake_url + "/api/", port).items()}
        router = RoutingMessenger({}, None)
        services = build(clock=SystemClock(), messenger=router, db=Database(url), worker="cpu")
        talk = Statements(services.db.engine)
        app, _ = make_app(services, router, env)
        inbox = app[INBOX]
        if profile:
            inbox._acks = ProfiledPool(4, thread_name_prefix="inbox-store")
            inbox._answers = ProfiledPool(inbox.in_flight + 1, thread_name_prefix="inbox-answer")
        from bot.logs import AccessLog

        runner = aiohttp.web.AppRunner(app, access_log_class=AccessLog)
        await runner.setup()
        await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
        target = f"http://127.0.0.1:{port}/slack/events"
        rounds = [("warm-up", args.commands * 2, WARM, 0)]
        rounds.append(("first contact", 0, args.commands, 1))
        if args.known:
            rounds.append(("known", 0, args.commands, 2))
        results = []
        main_profile = cProfile.Profile(time.thread_time) if profile else None
        for name, first, count, shift in rounds:
            tag = uuid.uuid4().hex[:6]
            if name != "warm-up" and main_profile is not None:
                main_profile.enable()
            cpu = time.process_time()
            talk.reset()
            sender = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--client", target, fake_url, tag, str(first),
                str(count), str(args.rate), str(shift), cwd=ROOT, stdout=subprocess.PIPE)
            got = await replies(stats_url, tag, count)
            await sender.wait()
            await inbox.idle()
            used = time.process_time() - cpu
            if main_profile is not None:
                main_profile.disable()
            if name == "warm-up":
                ProfiledPool.profiles.clear()  # the thread profiles start after the warm-up
                ProfiledPool._local = threading.local()
            else:
                results.append((name, got, used * 1000 / max(1, got),
                                talk.statements / max(1, got), talk.commits / max(1, got)))
        if main_profile is not None:
            stats = pstats.Stats(main_profile)
            for thread_profile in ProfiledPool.profiles:
                stats.add(thread_profile)
            stats.dump_stats(args.profile)
            out = io.StringIO()
            stats.stream = out
            stats.sort_stats("cumulative").print_stats(60)
            stats.sort_stats("tottime").print_stats(40)
            print(out.getvalue())
        return results
    finally:
        if runner is not None:
            await runner.cleanup()
        stop(fake)


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        client(sys.argv[2:])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--known", action="store_true", help="a second round, same mentees")
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    from chat_latency import prepare_database

    print(f"chat CPU per command on {machine()}")
    with tempfile.TemporaryDirectory() as tmp, \
            (fresh_postgres() if args.postgres else contextlib.nullcontext()) as pg_url:
        folder = Path(tmp)
        url = pg_url if args.postgres else f"sqlite:///{folder / 'chat.db'}"
        if url is None:
            raise SystemExit("PostgreSQL is not reachable")
        prepare_database(url, folder, 2 * args.commands + WARM)
        results = asyncio.run(measure(url, args, bool(args.profile)))
    database = "PostgreSQL" if args.postgres else "SQLite"
    for name, got, cpu_ms, statements, commits in results:
        print(f"  {database}, {name}: {got} answered at {args.rate:g}/s, "
              f"{cpu_ms:.2f} CPU ms per command (serve side, in-process), "
              f"{statements:.1f} statements and {commits:.1f} commits per command"
              + (" [profiled]" if args.profile else ""))


if __name__ == "__main__":
    main()
