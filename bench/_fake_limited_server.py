"""A rate-limited fake Slack Web API or Bot Connector as a process of its own (bench/broadcast.py).

    python bench/_fake_limited_server.py --platform slack|teams --rate 100 --burst 10

The fakes of tests/ (tests/fake_slack_api.py, tests/fake_teams_connector.py) behind one token
bucket: chat.postMessage for the workspace (Slack), new activities for the app (Teams), `rate`
a second and `burst` at once; past it HTTP 429 with Retry-After (whole seconds, as Slack sends
it). Being a process of its own, the fake's bucket sees requests when they arrive, not when the
benchmark's busy event loop gets round to them, and the benchmark's process measures the bot
alone. Prints `port API STATS` once it listens; GET /stats on the second port answers what it
has seen: `limited` (429s given) and `ok_posts`, [time.monotonic(), channel or conversation] of
every post answered ok (the monotonic clock is the machine's, shared by every process),
`limited_at` (when each 429 was given) and `stalls` (each time its own event loop was more than
20 ms late: the machine was busy). Stops on SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from tests.fake_slack_api import FakeSlack  # noqa: E402
from tests.fake_teams_connector import FakeConnector  # noqa: E402


class Bucket:
    """One token bucket: `rate` a second, `burst` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._refilled = float(burst), time.monotonic()

    def take(self) -> float:
        """0 if a token was taken, else the seconds until the next one."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate


class Limited:
    """What both fakes share: the bucket, the 429s it gave, the posts answered ok."""

    def limit(self, rate: float, burst: int) -> None:
        self.bucket = Bucket(rate, burst)
        self.limited = 0
        self.limited_at: list[float] = []
        self.ok_posts: list[tuple[float, str]] = []

    async def refused(self, request: web.Request, body: dict) -> web.Response | None:
        """A 429 with Retry-After (whole seconds, as Slack sends it) past the bucket, else None."""
        wait = self.bucket.take()
        if wait <= 0:
            return None
        self.limited += 1
        self.limited_at.append(time.monotonic())
        await request.read()
        return web.json_response(body, status=429,
                                 headers={"Retry-After": str(max(1, math.ceil(wait)))})


class RateLimitedSlack(Limited, FakeSlack):
    """chat.postMessage through the workspace's bucket. Keeps no calls (10,000 of them), only
    when and where each post answered ok went."""

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__({})
        self.limit(rate, burst)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method == "chat.postMessage" and (refusal := await self.refused(
                request, {"ok": False, "error": "ratelimited"})):
            return refusal
        response = await super()._api(request)
        call = self.calls.pop()
        if method == "chat.postMessage" and response.status == 200:
            self.ok_posts.append((call.at, call.params.get("channel", "")))
        return response

    def _chat_postMessage(self, params: dict) -> dict:  # a lighter answer than the test fake's
        return {"ok": True, "channel": params.get("channel"), "ts": self._next_ts()}

    def _answer(self, method: str, params: dict, call) -> web.Response:
        response = super()._answer(method, params, call)
        self.messages.clear()  # nothing is read back in the benchmark
        return response


class RateLimitedConnector(Limited, FakeConnector):
    """New activities through the app's bucket. Cards are not checked against their schema
    here, and calls keep no bodies."""

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__()
        self.limit(rate, burst)

    @staticmethod
    def _check_cards(body: dict) -> None:
        return None

    async def _record(self, request: web.Request, method: str) -> web.Response:
        if method == "POST" and (refusal := await self.refused(
                request, {"error": {"code": "Throttled"}})):
            return refusal
        at = time.monotonic()
        response = await super()._record(request, method)
        call = self.calls.pop()
        if method == "POST" and call.status < 300:
            self.ok_posts.append((at, call.conversation_id))
        return response


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--platform", choices=("slack", "teams"), required=True)
    parser.add_argument("--rate", type=float, required=True, help="posts a second allowed")
    parser.add_argument("--burst", type=int, default=10, help="posts allowed at once")
    args = parser.parse_args()
    if args.platform == "slack":
        fake = await RateLimitedSlack(args.rate, args.burst).start()
        port = fake.port
    else:
        fake = await RateLimitedConnector(args.rate, args.burst).start()
        port = fake.server.port

    lags: list[float] = []

    async def watch_loop() -> None:
        """How late a 10 ms timer fires here: the fake's own stalls (a busy machine), during
        which requests queue unseen and then meet the bucket at once."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.01)
            late = time.monotonic() - before - 0.01
            if late > 0.02:
                lags.append(round(late, 4))

    watcher = asyncio.create_task(watch_loop())

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response({"limited": fake.limited, "ok_posts": fake.ok_posts,
                                  "limited_at": fake.limited_at, "stalls": lags})

    app = web.Application()
    app.router.add_get("/stats", stats)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"port {port} {site._server.sockets[0].getsockname()[1]} pid {os.getpid()}",
          flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    watcher.cancel()
    await runner.cleanup()
    await (fake.stop() if args.platform == "slack" else fake.close())


if __name__ == "__main__":
    asyncio.run(main())
