"""The pacers keep their schedule through late timers, earn no credit in a pause, and stay cheap
over a broadcast to 10,000 conversations."""
from __future__ import annotations

import asyncio
import heapq
import time

from bot.slack.pacing import Pacer as SlackPacer
from bot.teams.connector import Pacer as TeamsPacer


class LateTimers:
    """Virtual time whose timers all fire `late` seconds after they were due (a busy loop)."""

    def __init__(self, late: float = 0.0) -> None:
        self.now, self.late = 0.0, late

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds + self.late


async def _grants(wait, times: LateTimers, count: int) -> list[float]:
    granted = []
    for i in range(count):
        await wait(f"D{i}")
        granted.append(times.now)
    return granted


async def test_slack_pacer_keeps_its_rate_when_every_timer_fires_late():
    times = LateTimers(late=0.015)  # later than one interval (10 ms), under the catch-up
    pacer = SlackPacer(per_minute=6000, monotonic=times.monotonic, sleep=times.sleep)
    granted = await _grants(pacer.wait, times, 200)
    # t0 + k / rate, not an interval after each late grant (which would be 25 ms apart)
    assert granted[-1] - granted[0] <= 199 * 0.01 + 0.03


async def test_slack_pacer_earns_no_credit_in_a_pause():
    times = LateTimers()
    pacer = SlackPacer(per_minute=6000, monotonic=times.monotonic, sleep=times.sleep)
    await _grants(pacer.wait, times, 10)
    times.now += 1.0  # nothing to post for a second
    granted = await _grants(pacer.wait, times, 10)
    gaps = [b - a for a, b in zip(granted, granted[1:])]
    assert min(gaps) >= 0.01 - 1e-9  # no burst after it


async def test_teams_pacer_keeps_its_rate_when_every_timer_fires_late():
    times = LateTimers(late=0.015)
    pacer = TeamsPacer(times.sleep, times.monotonic, per_app=((100, 1.0),))
    granted = await _grants(pacer.wait, times, 200)
    # (the app's one-second window also holds: never 101 in a second; its timer fires late too)
    assert granted[-1] - granted[0] <= 199 * 0.01 + 0.05
    times.late = 0.0
    times.now += 1.0  # a pause
    granted = await _grants(pacer.wait, times, 10)
    assert min(b - a for a, b in zip(granted, granted[1:])) >= 0.01 - 1e-9


async def test_teams_pacer_does_not_walk_every_conversation_on_every_call():
    times = LateTimers()
    pacer = TeamsPacer(times.sleep, times.monotonic, per_app=((1000, 1.0),))
    looked = [0]
    delay = pacer._delay

    def counting(key, now):
        looked[0] += 1
        return delay(key, now)

    pacer._delay = counting
    started = time.process_time()
    await _grants(pacer.wait, times, 12000)
    assert looked[0] < 10 * 12000  # each call looks at its own windows, the rest now and then
    assert time.process_time() - started < 5.0


class Waiters:
    """Virtual time for several tasks at once: it moves to the next wake-up only when every
    task is waiting."""

    def __init__(self) -> None:
        self.now, self._sleepers, self._order = 0.0, [], 0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.get_running_loop().create_future()
        self._order += 1
        heapq.heappush(self._sleepers, (self.now + seconds, self._order, woken))
        await woken

    async def run(self, *coroutines) -> list:
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(20):
                await asyncio.sleep(0)
            if self._sleepers:
                at, _, woken = heapq.heappop(self._sleepers)
                self.now = max(self.now, at)
                woken.set_result(None)
        return [t.result() for t in tasks]


async def test_posts_refused_with_a_429_go_again_in_their_turn_not_all_at_once():
    from slack_sdk.http_retry.request import HttpRequest
    from slack_sdk.http_retry.response import HttpResponse
    from slack_sdk.http_retry.state import RetryState

    from bot.slack.pacing import PacedRateLimitRetry

    times = Waiters()
    pacer = SlackPacer(per_minute=6000, monotonic=times.monotonic, sleep=times.sleep)
    retry = PacedRateLimitRetry(pacer)
    post = HttpRequest(method="POST", url="https://slack.com/api/chat.postMessage", headers={})
    refused = HttpResponse(status_code=429, headers={"Retry-After": ["1"]})

    async def refused_and_again() -> float:
        state = RetryState()
        await retry.prepare_for_next_attempt_async(state=state, request=post, response=refused)
        assert state.next_attempt_requested and state.current_attempt == 1
        return times.now

    again = sorted(await times.run(*(refused_and_again() for _ in range(5))))
    assert again[0] == 1.0  # after Retry-After, then one by one at the paced rate
    assert [round(b - a, 3) for a, b in zip(again, again[1:])] == [0.01] * 4
