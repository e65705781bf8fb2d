"""The fake Slack Web API of tests/fake_slack_api.py as a process of its own (for benchmarks).

    python bench/_fake_slack_server.py --mentees 2000

Knows Slack users U00000… for mentee0@example.org…; prints `port N` once it listens, and answers
GET /stats with what it has seen (calls per method, the last response_url POST's
time.monotonic(), which every process on the machine shares; with ?answers=PREFIX, when each
response_url whose key starts with PREFIX was first answered). Stops on SIGTERM. Like the test
fake it answers conversations.history with message metadata; `--drop-after SHARE` takes that
share of chat.postMessage calls and then drops the connection unanswered (a post that is out,
though the bot never hears so).
"""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web  # noqa: E402

from tests.fake_slack_api import FakeSlack  # noqa: E402


def slack_user(i: int) -> str:
    return f"U{i:05d}"


def mentee_users(count: int) -> dict[str, str]:
    return {slack_user(i): f"mentee{i}@example.org" for i in range(count)}


class CountingSlack(FakeSlack):
    """Keeps counts, not every call's parameters, so a long run stays small."""

    def __init__(self, users: dict[str, str]) -> None:
        super().__init__(users)
        self.counts: Counter = Counter()
        self.last_response_at = 0.0
        self.answered: dict[str, float] = {}  # response_url key → first answer (monotonic)

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        call = self.calls.pop()
        self.counts[f"{call.method} {call.status}"] += 1
        return response

    async def _respond(self, request: web.Request) -> web.Response:
        await request.read()
        self.counts["response_url"] += 1
        self.last_response_at = time.monotonic()
        self.answered.setdefault(request.match_info["key"], self.last_response_at)
        return web.Response(text="ok", content_type="text/plain")

    async def stats(self, request: web.Request) -> web.Response:
        prefix = request.query.get("answers")
        answers = {} if prefix is None else {
            key: at for key, at in self.answered.items() if key.startswith(prefix)}
        return web.json_response({"counts": dict(self.counts),
                                  "last_response_at": self.last_response_at,
                                  "answers": answers})


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mentees", type=int, required=True)
    parser.add_argument("--drop-after", type=float, default=0.0,
                        help="share of posts taken, then answered by a dropped connection")
    args = parser.parse_args()
    fake = CountingSlack(mentee_users(args.mentees))
    if args.drop_after > 0:
        fake.make_chaos(args.drop_after, methods=("chat.postMessage",), kinds=("drop",),
                        flavours=("-after",))
    await fake.start()
    stats = web.Application()
    stats.router.add_get("/stats", fake.stats)
    runner = web.AppRunner(stats, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"port {fake.port} {site._server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()
    await fake.stop()


if __name__ == "__main__":
    asyncio.run(main())
