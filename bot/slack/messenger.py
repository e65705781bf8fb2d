"""Slack adapter, delivery: a message into a person's DM with the bot, paced, with its file.

The outbox calls `send`; the listeners use `post` for replies. Slack's refusals are sorted into
permanent (recorded on the delivery, never retried) and passing (the outbox backs off).

Every outbox post carries its delivery keys as message metadata (event type `mentor_delivery`).
A post whose answer was lost (a timeout, a connection dropped after the request went out, a
5xx) is `ambiguous`: the outbox then calls `find_sent` before trying again, which reads the DM
back (conversations.history from the claim on, with metadata) and finds the keys already there.
Nothing is read back otherwise: conversations.history is a Tier 3 method.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import render
from bot.slack.pacing import Pacer
from conversations.messages import Message, SentRef
from conversations.outbox import DeliveryFailed, Recipient

log = logging.getLogger(__name__)
PLATFORM = "slack"
EVENT_TYPE = "mentor_delivery"
READ_BACK_MARGIN = timedelta(minutes=2)  # clocks differ; a claim precedes its post anyway
READ_BACK_PAGE = 100
READ_BACK_PAGES = 3
PERMANENT = {
    "user_not_found", "account_inactive", "channel_not_found", "not_in_channel", "is_archived",
    "cannot_dm_bot", "user_disabled", "users_not_found", "user_not_visible", "is_bot",
    "restricted_action", "msg_too_long", "invalid_blocks", "no_text",
}
# invalid_auth, token_revoked, missing_scope … are workspace set-up problems, not the person's:
# those pass (the outbox backs off and tries again) so fixing the token loses no prompt.


def failure(error: Exception) -> DeliveryFailed:
    """Sort an exception from the SDK into a DeliveryFailed the outbox understands."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", 0) or 0
        code = ""
        data = getattr(response, "data", None)
        if isinstance(data, dict):
            code = str(data.get("error") or "")
        if status == 429:
            return DeliveryFailed("ratelimited", permanent=False)
        if status >= 500 or not code:
            return DeliveryFailed(f"slack_http_{status}", permanent=False)
        return DeliveryFailed(code, permanent=code in PERMANENT)
    if isinstance(error, (asyncio.TimeoutError, aiohttp.ClientError, SlackClientError)):
        return DeliveryFailed(f"network: {type(error).__name__}", permanent=False)
    return DeliveryFailed(type(error).__name__, permanent=False)


def post_failure(error: Exception) -> DeliveryFailed:
    """A failed chat.postMessage: like `failure`, and `ambiguous` when Slack may have posted it
    all the same (no answer after the request went out, or a 5xx)."""
    reason = failure(error)
    if isinstance(error, aiohttp.ClientConnectorError):  # never connected: nothing was sent
        return reason
    if isinstance(error, SlackApiError):
        status = getattr(error.response, "status_code", 0) or 0
        reason.ambiguous = status >= 500
    elif isinstance(error, (asyncio.TimeoutError, aiohttp.ClientError)):
        reason.ambiguous = True
    return reason


def metadata(keys: tuple[str, ...]) -> dict | None:
    """The delivery keys as Slack message metadata (the first as `key`; all, when several
    prompts were merged into one message, space-separated in `keys`)."""
    if not keys:
        return None
    payload = {"key": keys[0]}
    if len(keys) > 1:
        payload["keys"] = " ".join(keys)
    return {"event_type": EVENT_TYPE, "event_payload": payload}


def keys_of(message: dict) -> set[str]:
    meta = message.get("metadata") or {}
    if meta.get("event_type") != EVENT_TYPE:
        return set()
    payload = meta.get("event_payload") or {}
    return {str(payload.get("key") or ""), *str(payload.get("keys") or "").split()} - {""}


def files_of(message: Message) -> list[tuple[str, str, bytes]]:
    """The files that go with a message: its own, and its whole text when too long for blocks."""
    return [f for f in (message.attachment, render.overflow(message)) if f is not None]


class SlackMessenger:
    platform = PLATFORM

    def __init__(self, client: AsyncWebClient, pacer: Pacer) -> None:
        self.client = client
        self.pacer = pacer
        self._dms: dict[str, str] = {}
        self._by_email: dict[str, str] = {}
        self._session: aiohttp.ClientSession | None = None

    def _keep_alive(self) -> None:
        """slack_sdk opens a new HTTP session, so a new connection (and TLS handshake), for each
        call unless the client has one: it gets one here, in the running event loop, whose
        connections are kept alive between posts (`close` closes it)."""
        if self.client.session is None or self.client.session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.client.timeout))
            self.client.session = self._session

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            if self.client.session is session:
                self.client.session = None
            await session.close()

    async def send(self, recipient: Recipient, message: Message) -> SentRef:
        """Into the person's DM. Someone who never wrote to the bot is found by their roster
        email (users.lookupByEmail), so a programme's kick-off reaches everyone on day one."""
        channel = await self._channel_of(recipient)
        try:
            ts = await self.post(channel, message, metadata=metadata(recipient.keys))
        except DeliveryFailed:
            raise
        except Exception as error:
            self._dms = {u: c for u, c in self._dms.items() if c != channel}
            raise post_failure(error) from error
        return SentRef(PLATFORM, f"{channel}:{ts}")

    async def find_sent(self, recipient: Recipient, keys: tuple[str, ...],
                        since: datetime) -> dict[str, SentRef]:
        """Which of these delivery keys are on messages in the person's DM since `since`."""
        channel = await self._channel_of(recipient)
        wanted, found, cursor = set(keys), {}, None
        try:
            for _ in range(READ_BACK_PAGES):
                response = await self.client.conversations_history(
                    channel=channel, oldest=f"{(since - READ_BACK_MARGIN).timestamp():.6f}",
                    include_all_metadata=True, limit=READ_BACK_PAGE, cursor=cursor)
                for posted in response.get("messages") or []:
                    for key in keys_of(posted) & wanted:
                        found.setdefault(key, SentRef(PLATFORM, f"{channel}:{posted.get('ts')}"))
                cursor = (response.get("response_metadata") or {}).get("next_cursor")
                if not cursor or len(found) == len(wanted):
                    break
        except Exception as error:
            raise failure(error) from error
        return found

    async def _channel_of(self, recipient: Recipient) -> str:
        address = next((a for a in recipient.addresses if a.platform == PLATFORM), None)
        user = address.user_id if address is not None else ""
        if address is not None and address.conversation_id.startswith("D"):
            self._dms.setdefault(user, address.conversation_id)  # the DM they wrote to us in
        try:
            user = user or await self.user_by_email(recipient.email)
            return await self.dm_channel(user)
        except DeliveryFailed:
            raise
        except Exception as error:
            self._dms.pop(user, None)
            raise failure(error) from error

    async def user_by_email(self, email: str) -> str:
        user = self._by_email.get(email)
        if user is None:
            try:
                response = await self.client.users_lookupByEmail(email=email)
            except SlackApiError as error:
                reason = failure(error)
                if reason.reason == "users_not_found":  # not in this workspace (yet): like the
                    raise DeliveryFailed(  # router's not_installed, tried again, then given up
                        "not_installed: no Slack account with this email") from error
                raise reason from error
            user = response["user"]["id"]
            self._by_email[email] = user
        return user

    async def dm_channel(self, user_id: str) -> str:
        """The bot's DM with this person (conversations.open is idempotent; cached anyway)."""
        channel = self._dms.get(user_id)
        if channel is None:
            response = await self.client.conversations_open(users=user_id)
            channel = response["channel"]["id"]
            self._dms[user_id] = channel
        return channel

    async def post(self, channel: str, message: Message, *, metadata: dict | None = None) -> str:
        """Post the message (blocks + notification text), then its files; returns the message ts.

        A text longer than Slack's blocks can hold is cut, and follows whole as a file. A failed
        upload is logged, not raised: the message itself is out, and sending it again would
        post it twice.
        """
        await self.pacer.wait(channel)
        self._keep_alive()
        extra = {"metadata": metadata} if metadata else {}
        response = await self.client.chat_postMessage(
            channel=channel, text=render.fallback(message), blocks=render.blocks(message),
            unfurl_links=False, unfurl_media=False, **extra)
        for attachment in files_of(message):
            try:
                await self.upload(channel, attachment)
            except Exception as error:
                log.warning("file upload to a Slack DM failed: %s", failure(error).reason)
        return response["ts"]

    async def upload(self, channel: str, attachment: tuple[str, str, bytes]) -> None:
        name, _mime, content = attachment
        await self.pacer.wait(channel)
        await self.client.files_upload_v2(channel=channel, filename=name, title=name,
                                          content=content)
