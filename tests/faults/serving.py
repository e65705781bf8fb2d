"""`app.py serve` as a real process for the fault tests: started, killed with SIGKILL, restarted.

Time is a CLOCK_FILE shared with the test (rehearsal time, as in tests/e2e/test_replicas.py),
written atomically so a process never reads half a timestamp.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import random
import signal
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp

from storage import outbox

ROOT = Path(__file__).resolve().parents[2]


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port free now, never given before in this run, below Linux's ephemeral range: bind(0)
    handed two replicas the same port once (the first was released before either bound it)."""
    while True:
        port = random.randint(20000, 32000)
        if port in _GIVEN:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.add(port)
        return port


async def until(check, timeout: float = 60, every: float = 0.1, what: str = "") -> None:
    """Wait until `check()` (a plain or async callable) is true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(every)
    raise AssertionError(f"timed out waiting for {what or check}")


def settled(db, now: datetime) -> bool:
    with db.unit() as session:
        return outbox.settled(session, now)


class ClockFile:
    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.moments: list[datetime] = []
        self.set(start)

    @property
    def now(self) -> datetime:
        return self.moments[-1]

    def set(self, moment: datetime) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_text(moment.isoformat())
        os.replace(partial, self.path)
        self.moments.append(moment)

    def advance(self, **delta: float) -> datetime:
        self.set(self.now + timedelta(**delta))
        return self.now


class Serve:
    """One `serve` process on its own port; its output goes to a log file (shown on failure)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env, self.log = env, log
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Serve":
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "app.py", "serve", "--port", str(self.port)], cwd=ROOT,
                env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def health(self, http: aiohttp.ClientSession) -> int:
        try:
            async with http.get(f"{self.url}/healthz",
                                timeout=aiohttp.ClientTimeout(total=5)) as response:
                return response.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return 0

    async def ready(self, http: aiohttp.ClientSession, timeout: float = 600) -> None:
        """Until /healthz answers; fails at once if the process exits (the timeout is a guard
        for a hang: starting may take minutes on a loaded machine)."""
        async def up() -> bool:
            if not self.alive and "address already in use" in self.tail(5):
                self.port = free_port()  # taken between our check and its bind: another port
                self.start()
            assert self.alive, f"serve exited: {self.tail()}"
            return await self.health(http) == 200
        await until(up, timeout, what="serve to answer /healthz")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no drain, nothing settled."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if not self.alive:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text().splitlines()[-lines:])
        except OSError:
            return ""


def serve_env(database_url: str, clock: ClockFile, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": database_url, "CLOCK_FILE": str(clock.path),
           "TICK_SECONDS": "0.2", "CONSOLE_INBOX": "0", "LOG_LEVEL": "WARNING", **extra}
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
                 "MICROSOFT_APP_ID", "ADMIN_TOKEN", "TEAMS_EMULATOR"):
        if name not in extra:
            env.pop(name, None)
    if "MICROSOFT_APP_ID" not in extra:
        env.setdefault("TEAMS_EMULATOR", "1")  # the tests' Teams is the fake connector on loopback
    return env
