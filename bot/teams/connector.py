"""Teams adapter: the three Bot Connector REST calls we make, paced and retried.

Every outgoing call (replies, proactive prompts, card updates, roster look-ups) goes through
here, so Teams' limits for bots hold everywhere: per conversation about 7 messages a second,
60 per 30 s and 1,800 an hour, and a ceiling for the whole app (with several replicas, each
paces at its share of it: `replicas`). 412, 429, 502, 503 and 504 are retried with exponential
backoff and jitter (honouring Retry-After); a refusal that will not change (400, 403, 404, ...)
is permanent. Failures are `DeliveryFailed`, as the outbox expects.

A new message (POST) is never resent here once its request may have reached the connector: the
Bot Connector lets a bot neither read a conversation back nor send idempotently, so a timeout,
a connection lost after sending, a 502 or a 504 leave it unknown whether the message is out.
Those fail at once as `ambiguous` (counted on the delivery); the outbox tries again later,
which is the only duplicate the protocol allows. The send timeout is generous (SEND_TIMEOUT) to
keep that window small.
Only addresses the service URL policy allows are called (bot/teams/service_urls.py), whatever
a stored conversation reference says.
"""
from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from urllib.parse import quote

import aiohttp

from bot.teams.service_urls import ServiceUrls
from conversations.outbox import DeliveryFailed

log = logging.getLogger(__name__)
RETRY_STATUSES = {412, 429, 502, 503, 504}
LATER_STATUSES = {401, 408, 500}  # not retried now; the outbox tries again later
PER_CONVERSATION = ((7, 1.0), (60, 30.0), (1800, 3600.0))  # (messages, seconds)
PER_APP = ((50, 1.0),)
SEND_TIMEOUT = 60.0  # seconds: a slow answer is better than an unknown one
UNSURE_STATUSES = {502, 504}  # a gateway's answer: the connector may have taken the message
MAX_TRACKED = 5000
CATCH_UP = 0.05  # seconds a grant may come late and keep the app's schedule (see Pacer)
_CODE = re.compile(r"[^A-Za-z0-9_.-]")

Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    """Sliding windows per conversation and for the whole app: waits until a call fits.

    The app's calls are also spaced evenly at its steadiest limit (50 a second: one per 20 ms),
    strictly: a pause earns no credit, so a broadcast never opens with a burst. They are
    scheduled at t0 + k × interval: a grant a little late (under `catch_up`) keeps the schedule,
    so timer granularity and a busy event loop cost no rate.

    Conversations quiet for an hour are forgotten once more than MAX_TRACKED are known, and
    then only when their number has doubled since the last look (a broadcast to 10,000 people
    must not walk them all on every call)."""

    def __init__(self, sleep: Sleep = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 per_conversation=PER_CONVERSATION, per_app=PER_APP, replicas: int = 1,
                 catch_up: float = CATCH_UP) -> None:
        self.sleep, self.monotonic = sleep, monotonic
        share = max(replicas, 1)
        per_app = tuple((max(int(count / share), 1), seconds) for count, seconds in per_app)
        self.limits = {"conversation": per_conversation, "app": per_app}
        self.interval = max((seconds / count for count, seconds in per_app), default=0.0)
        self.catch_up = max(catch_up, self.interval)
        self._app_tat = 0.0
        self._sent: dict[tuple[str, str], deque[float]] = {}
        self._forget_above = MAX_TRACKED

    async def wait(self, conversation_id: str) -> None:
        keys = (("conversation", conversation_id), ("app", ""))
        if len(self._sent) > self._forget_above:  # forget conversations quiet for an hour
            now = self.monotonic()
            for key in list(self._sent):
                self._delay(key, now)
            self._forget_above = max(MAX_TRACKED, 2 * len(self._sent))
        while True:
            now = self.monotonic()
            delay = max(self._app_tat - now, *(self._delay(key, now) for key in keys))
            if delay <= 0:
                for key in keys:
                    self._sent.setdefault(key, deque()).append(now)
                tat = self._app_tat  # a grant a little late keeps the rate; a pause restarts it
                self._app_tat = (tat if tat <= now < tat + self.catch_up else now) + self.interval
                return
            await self.sleep(delay)

    def _delay(self, key: tuple[str, str], now: float) -> float:
        limits = self.limits[key[0]]
        sent = self._sent.get(key)
        if not sent:
            return 0.0
        longest = max(seconds for _, seconds in limits)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        if not sent:
            del self._sent[key]
            return 0.0
        delay = 0.0
        for count, seconds in limits:
            recent = [t for t in sent if t > now - seconds]
            if len(recent) >= count:
                delay = max(delay, recent[-count] + seconds - now)
        return delay


class Connector:
    def __init__(self, token: Callable[[], Awaitable[str]], service_urls: ServiceUrls, *,
                 tries: int = 4, base_delay: float = 1.0, max_delay: float = 60.0, sleep: Sleep = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 jitter: Callable[[], float] = random.random, replicas: int = 1) -> None:
        self.token = token
        self.service_urls = service_urls
        self.tries, self.base_delay, self.max_delay = tries, base_delay, max_delay
        self.jitter = jitter
        self.pacer = Pacer(sleep, monotonic, replicas=replicas)
        self.sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    def use_timing(self, sleep: Sleep, monotonic: Callable[[], float]) -> None:
        """Tests pass a virtual clock, so backoff and pacing run instantly."""
        self.sleep = self.pacer.sleep = sleep
        self.pacer.monotonic = monotonic

    async def send(self, service_url: str, conversation_id: str, activity: dict,
                   reply_to: str = "") -> str:
        """Post a message (a reply when `reply_to` is given); the new activity's id."""
        path = _path(conversation_id, "activities", reply_to)
        body = await self._call("POST", service_url, path, conversation_id, activity)
        return str(body.get("id", ""))

    async def update(self, service_url: str, conversation_id: str, activity_id: str,
                     activity: dict) -> None:
        path = _path(conversation_id, "activities", activity_id)
        await self._call("PUT", service_url, path, conversation_id,
                         {**activity, "id": activity_id})

    async def member(self, service_url: str, conversation_id: str, user_id: str) -> dict | None:
        """The roster entry of one member (email, AAD object id), or None when unavailable."""
        path = _path(conversation_id, "members", user_id)
        try:
            return await self._call("GET", service_url, path, conversation_id, None)
        except DeliveryFailed as failure:
            log.warning("Teams member look-up failed: %s", failure.reason)
            return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, service_url: str, path: str, conversation_id: str,
                    body: dict | None) -> dict:
        if not service_url:
            raise DeliveryFailed("teams: no service URL for this conversation", permanent=True)
        refused = self.service_urls.why_not(service_url)
        if refused:
            log.warning("Teams call refused: %s", refused)
            raise DeliveryFailed("teams: service URL not allowed", permanent=True)
        url = service_url.rstrip("/") + path
        reason = ""
        for attempt in range(self.tries):
            await self.pacer.wait(conversation_id)
            delay = self._backoff(attempt)
            try:
                status, headers, answer = await self._request(method, url, body)
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                reason = f"teams network error: {type(error).__name__}"
                if method == "POST" and not isinstance(error, aiohttp.ClientConnectorError):
                    raise DeliveryFailed(reason, ambiguous=True) from error
            else:
                if status < 300:
                    return answer
                reason = f"teams {status} {_error_code(answer)}".strip()
                if method == "POST" and status in UNSURE_STATUSES:
                    raise DeliveryFailed(reason, ambiguous=True)
                if status in LATER_STATUSES or status >= 500 and status not in RETRY_STATUSES:
                    raise DeliveryFailed(reason, permanent=False)
                if status not in RETRY_STATUSES:
                    raise DeliveryFailed(reason, permanent=True)
                delay = max(delay, _retry_after(headers, self.max_delay))
            if attempt + 1 < self.tries:
                log.info("Teams %s %s; retrying in %.1f s", method, reason, delay)
                await self.sleep(delay)
        raise DeliveryFailed(f"{reason} (gave up after {self.tries} tries)", permanent=False)

    async def _request(self, method: str, url: str, body: dict | None):
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT), trust_env=False)
        headers = {}
        token = await self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self._session.request(method, url, json=body, headers=headers) as response:
            try:
                answer = await response.json(content_type=None)
            except ValueError:
                answer = None
            return response.status, response.headers, answer if isinstance(answer, dict) else {}

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_delay, self.base_delay * 2 ** attempt)
        return delay / 2 + self.jitter() * delay / 2


def _path(conversation_id: str, collection: str, item: str = "") -> str:
    path = f"/v3/conversations/{quote(conversation_id, safe='')}/{collection}"
    return f"{path}/{quote(item, safe='')}" if item else path


def _error_code(answer: dict) -> str:
    """The connector's error code (never its message, which may quote content)."""
    error = answer.get("error") if isinstance(answer, dict) else None
    code = error.get("code", "") if isinstance(error, dict) else ""
    return _CODE.sub("", str(code))[:60]


def _retry_after(headers, ceiling: float) -> float:
    raw = (headers.get("Retry-After") or "").strip()
    try:
        return min(max(float(raw), 0.0), ceiling)
    except ValueError:
        return 0.0
