"""Slack adapter, pacing: keep posts under Slack's limits, so a broadcast never hits a wall of 429s.

chat.postMessage allows about one message a second per channel (short bursts are fine) and
several hundred a minute per workspace. Two token buckets (a generic cell-rate algorithm) hand
out start times; a 429 holds everything back for its Retry-After.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler


class Pacer:
    def __init__(self, *, per_minute: float = 200, burst: int = 10, channel_interval: float = 1.0,
                 channel_burst: int = 3, monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.burst = max(burst, 1)
        self.channel_interval = channel_interval
        self.channel_burst = max(channel_burst, 1)
        self._monotonic, self._sleep = monotonic, sleep
        self._workspace_tat = 0.0
        self._channel_tat: dict[str, float] = {}
        self._hold_until = 0.0

    async def wait(self, channel: str) -> None:
        """Sleep until this channel and the workspace both have room for one more post."""
        delay = self.reserve(channel)
        if delay > 0:
            await self._sleep(delay)

    def reserve(self, channel: str) -> float:
        """Book the next free moment for a post (no await in between: asyncio-safe)."""
        now = self._monotonic()
        workspace_tat = max(self._workspace_tat, now)
        channel_tat = max(self._channel_tat.get(channel, now), now)
        start = max(now, self._hold_until,
                    workspace_tat - (self.burst - 1) * self.interval,
                    channel_tat - (self.channel_burst - 1) * self.channel_interval)
        self._workspace_tat = max(workspace_tat, start) + self.interval
        self._channel_tat[channel] = max(channel_tat, start) + self.channel_interval
        if len(self._channel_tat) > 1000:
            self._channel_tat = {c: t for c, t in self._channel_tat.items() if t > now}
        return start - now

    def hold(self, seconds: float) -> None:
        """Slack said 429: nobody posts before Retry-After has passed."""
        self._hold_until = max(self._hold_until, self._monotonic() + seconds)


class PacedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (it sleeps for Retry-After, then retries), which also tells the
    pacer, so the other posts of a broadcast wait too instead of each collecting its own 429."""

    def __init__(self, pacer: Pacer, max_retry_count: int = 2) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.pacer = pacer

    async def prepare_for_next_attempt_async(self, *, state, request, response=None, error=None):
        if response is not None:
            for name, values in response.headers.items():
                if name.lower() == "retry-after" and values:
                    try:
                        self.pacer.hold(float(values[0]))
                    except ValueError:
                        pass
        await super().prepare_for_next_attempt_async(state=state, request=request,
                                                     response=response, error=error)
