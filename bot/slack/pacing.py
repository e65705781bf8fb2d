"""Slack adapter, pacing: keep posts under Slack's limits, so a broadcast never hits a wall of 429s.

chat.postMessage allows about one message a second per channel (short bursts are fine) and
several hundred a minute per workspace. Two token buckets (a generic cell-rate algorithm) hand
out start times; a 429 holds everything back for its Retry-After. The workspace bucket is
strict by default (burst 1): a pause earns no credit, so the stream never bursts after one and
meets Slack's own bucket at the same steady rate. Posts are scheduled at t0 + k × interval, not
an interval after the previous one: a grant that comes a little late (under CATCH_UP: a timer
fired late, the event loop was busy) keeps the schedule, so timer granularity costs no rate.
With several replicas each paces at its share of the workspace budget (`share`): an explicit
per-replica share, no coordination needed.

slack_sdk's default retry handlers include one that resends a request after a dropped
connection; for a post that may already have been taken, that is a silent duplicate. Our
client retries connection errors only for calls that post nothing (`ConnectionRetryNoPosts`);
a post's fate is the outbox's to decide (it reads back, see bot/slack/messenger.py).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)

# A grant later than its schedule by less than this keeps the schedule (the posts due meanwhile
# go out back to back: a few, well inside any platform's burst); a longer gap is a pause, after
# which the schedule starts again from now.
CATCH_UP = 0.05
POSTING = ("chat.postMessage", "chat.postEphemeral", "chat.update",
           "files.completeUploadExternal")


def share(per_minute: float, replicas: int) -> float:
    """One replica's share of the workspace's posts a minute."""
    return per_minute / max(replicas, 1)


class Pacer:
    def __init__(self, *, per_minute: float = 200, burst: int = 1, channel_interval: float = 1.0,
                 channel_burst: int = 3, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 catch_up: float = CATCH_UP) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.catch_up = max(catch_up, self.interval)
        self.burst = max(burst, 1)
        self.channel_interval = channel_interval
        self.channel_burst = max(channel_burst, 1)
        self._monotonic, self._sleep = monotonic, sleep
        self._workspace_tat = 0.0
        self._channel_tat: dict[str, float] = {}
        self._hold_until = 0.0
        self._lock = asyncio.Lock()

    async def wait(self, channel: str) -> None:
        """Sleep until this channel and the workspace both have room for one more post.

        The channel first (about one a second in a DM), holding nobody else up; then the
        workspace, one grant at a time and in order. A grant a little late (under `catch_up`:
        the event loop was busy) keeps the stream's rate; after a longer gap the schedule starts
        again from now, so a pause earns no credit and is never followed by a burst."""
        delay = self._reserve_channel(channel)
        if delay > 0:
            await self._sleep(delay)
        now = await self.workspace_slot()
        self._channel_tat[channel] = max(self._channel_tat.get(channel, now),
                                         now + self.channel_interval)

    async def workspace_slot(self) -> float:
        """The workspace's next grant, in order (also for a post Slack refused with a 429 and
        that goes again: in its turn, not on top of the paced stream); returns its moment."""
        async with self._lock:
            while True:
                now = self._monotonic()
                start = max(self._hold_until,
                            self._workspace_tat - (self.burst - 1) * self.interval)
                if start <= now:
                    break
                await self._sleep(start - now)
            tat = self._workspace_tat
            self._workspace_tat = (tat if tat <= now < tat + self.catch_up else max(tat, now)) \
                + self.interval
            return now

    async def held(self) -> None:
        """Until a 429's Retry-After has passed."""
        while (delay := self._hold_until - self._monotonic()) > 0:
            await self._sleep(delay)

    def _reserve_channel(self, channel: str) -> float:
        """Book this channel's next free moment (no await in between: asyncio-safe)."""
        now = self._monotonic()
        channel_tat = max(self._channel_tat.get(channel, now), now)
        start = max(now, channel_tat - (self.channel_burst - 1) * self.channel_interval)
        self._channel_tat[channel] = max(channel_tat, start) + self.channel_interval
        if len(self._channel_tat) > 1000:
            self._channel_tat = {c: t for c, t in self._channel_tat.items() if t > now}
        return start - now

    def hold(self, seconds: float) -> None:
        """Slack said 429: nobody posts before Retry-After has passed."""
        self._hold_until = max(self._hold_until, self._monotonic() + seconds)


class PacedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (it retries after Retry-After), which also tells the pacer, so
    the other posts of a broadcast wait too instead of each collecting its own 429. The refused
    post then goes again through the pacer, in its turn: not all of them at once on top of the
    paced stream when Retry-After ends (which would drain Slack's bucket into more 429s)."""

    def __init__(self, pacer: Pacer, max_retry_count: int = 2) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.pacer = pacer

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None):
        if response is None:
            raise error
        retry_after = 1.0
        for name, values in response.headers.items():
            if name.lower() == "retry-after" and values:
                try:
                    retry_after = float(values[0])
                except ValueError:
                    pass
        state.next_attempt_requested = True
        self.pacer.hold(retry_after)
        if request.url.rstrip("/").rsplit("/", 1)[-1] in POSTING:
            await self.pacer.workspace_slot()
        else:
            await self.pacer.held()
        state.increment_current_attempt()


class ConnectionRetryNoPosts(AsyncConnectionErrorRetryHandler):
    """slack_sdk's retry after a lost connection, for calls that post nothing (look-ups, opening
    a DM); a post is never resent behind the outbox's back."""

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:
        if request.url.rstrip("/").rsplit("/", 1)[-1] in POSTING:
            return False
        return await super()._can_retry_async(state=state, request=request, response=response,
                                              error=error)
