"""Slack adapter, listeners: store, then acknowledge; answer when the inbox worker gets to it.

Each listener writes the verified request to the inbox (bot/inbox/) and only then acks, so an
acknowledged command survives a crash; the ack path runs no engine and calls no Slack API. The
worker calls `process`, which asks the engine and delivers its reply. Where a reply goes: a
slash command's reply is ephemeral (only the sender sees it, even in a channel); a DM is
answered in the DM; a pressed button is answered where it was pressed; a submitted form is
answered in the DM. Nothing private is ever posted in a channel.

The one exception to "ack first": a form submit waits (up to `ack_budget`, under Slack's 3 s)
for its stored row to be answered, so that a refusal can be shown on the form itself.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from datetime import timedelta

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.inbox.worker import InboxWorker, Job
from bot.language import language_of
from bot.platform import Identities
from bot.slack import inbound, render
from bot.slack.messenger import SlackMessenger, failure, files_of
from conversations.engine import Reply
from conversations.messages import Message, TextReceived
from storage.db import Unavailable
from storage.inbox import Inbound

log = logging.getLogger(__name__)
COMMAND = "/mentor"
ACK_BUDGET = 2.0  # seconds a form submit may spend before its ack (Slack allows 3)
EMAIL_CACHE_SECONDS = 600
RESPONSE_URL_VALID = timedelta(minutes=25)  # Slack honours a response_url for 30 minutes


class _Waiting:
    """A form submit's ack, waiting for the worker's reply (see on_view)."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.reply: asyncio.Future = loop.create_future()
        self.shown: asyncio.Future = loop.create_future()  # True: the ack showed the reply


class SlackChat:
    def __init__(self, services, client: AsyncWebClient, messenger: SlackMessenger,
                 inbox: InboxWorker, ack_budget: float = ACK_BUDGET) -> None:
        self.db, self.clock, self.texts = services.db, services.clock, services.texts
        self.wall = services.wall.now
        self.engine = services.engine
        self.client = client
        self.messenger = messenger
        self.inbox = inbox
        self.ack_budget = ack_budget
        self._emails: dict[str, tuple[float, str]] = {}
        self.identities = Identities(inbound.PLATFORM, services.engine.is_known, inbox.in_thread)
        self._waiting: dict[str, _Waiting] = {}
        self._locales: dict[str, str] = {}
        self._http: aiohttp.ClientSession | None = None  # response_url answers, kept alive
        self._lookups: AsyncWebClient | None = None  # users.info, over kept-alive connections

    async def close(self) -> None:
        for session in (self._http, self._lookups and self._lookups.session):
            if session is not None:
                await session.close()

    def _lookup_client(self) -> AsyncWebClient:
        """The Web API client for users.info: the chat client's settings, with a connection
        pool of its own (the SDK otherwise opens a new one for every call)."""
        client = self.client
        lookups = self._lookups
        if lookups is None or lookups.session.closed or lookups.timeout != client.timeout:
            if lookups is not None:
                asyncio.ensure_future(lookups.session.close())
            lookups = self._lookups = AsyncWebClient(
                token=client.token, base_url=client.base_url, timeout=client.timeout,
                retry_handlers=client.retry_handlers, session=aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=client.timeout)))
        return lookups

    def register(self, bolt: AsyncApp) -> None:
        bolt.command(COMMAND)(self.on_command)
        bolt.event("message")(self.on_message)
        bolt.event("app_home_opened")(self.on_home)
        bolt.event("user_change")(self.on_user_change)
        bolt.action(re.compile(".+"))(self.on_action)
        bolt.view_submission(re.compile(".+"))(self.on_view)

    async def idle(self) -> None:
        """Wait until every stored request this process can answer is answered (tests)."""
        await self.inbox.idle()

    # -- the ack path: store, then acknowledge -------------------------------------------------

    async def _store(self, kind: str, key: str, user: str, body: dict) -> bool:
        return await self.inbox.store(Inbound(
            key=f"{inbound.PLATFORM}:{key}", platform=inbound.PLATFORM, kind=kind,
            sender=f"{inbound.PLATFORM}:{user}", body=json.dumps(body), received_at=self.wall()))

    async def on_command(self, ack, body: dict) -> None:
        refusal = await self.store_command(body)
        await (ack(text=refusal) if refusal else ack())

    async def store_command(self, body: dict) -> str:
        """Stored: "". Otherwise what the ack tells the person (see `_refusal`)."""
        trigger = body.get("trigger_id") or f"{body.get('user_id')}:{time.time_ns()}"
        return await self._refusal("command", f"command:{trigger}",
                                   str(body.get("user_id") or ""), body)

    async def on_message(self, body: dict) -> None:
        event = body.get("event") or {}
        if inbound.is_person_dm(event):
            key = body.get("event_id") or event.get("client_msg_id") or event.get("ts", "")
            await self._store("message", f"event:{key}", event["user"], body)

    async def on_home(self, body: dict) -> None:
        event = body.get("event") or {}
        if event.get("tab") == "home" and event.get("user"):
            key = body.get("event_id") or f"{event['user']}:{event.get('event_ts', '')}"
            await self._store("home", f"event:{key}", event["user"], body)

    async def on_action(self, ack, body: dict) -> None:
        user = body["user"]["id"]
        action = body["actions"][0]
        stamp = action.get("action_ts") or body.get("trigger_id") or str(time.time_ns())
        if await self._stored_or_sorry(ack, "action", f"action:{user}:{stamp}", user, body):
            await ack()

    async def _stored_or_sorry(self, ack, kind: str, key: str, user: str, body: dict) -> bool:
        """Stored: True. Otherwise the ack itself tells the person (see `_refusal`)."""
        refusal = await self._refusal(kind, key, user, body)
        if refusal:
            await ack(text=refusal)
        return not refusal

    async def _refusal(self, kind: str, key: str, user: str, body: dict) -> str:
        """Stored: "". With the database away, what the ack tells the person instead: Slack
        does not resend a command or a press."""
        try:
            await self._store(kind, key, user, body)
            return ""
        except Unavailable:
            log.warning("database unavailable: a Slack %s was not stored", kind)
            language = self.engine.language_for(inbound.PLATFORM, user,
                                                self._locales.get(user, ""))
            return self.texts.render(language, "errors/try_again")

    async def on_view(self, ack, body: dict) -> None:
        """Submit: stored, then answered within the ack when the worker is quick, so a refusal
        can be shown on the form itself; otherwise the form closes and the answer comes in
        the DM (the worker delivers it)."""
        user = body["user"]["id"]
        key = f"view:{body.get('trigger_id') or time.time_ns()}"
        waiting = self._waiting[key] = _Waiting()
        try:
            if not await self._stored_or_sorry(ack, "view", key, user, body):
                return
            try:
                reply: Reply = await asyncio.wait_for(asyncio.shield(waiting.reply),
                                                      self.ack_budget)
            except TimeoutError:
                if self._waiting.pop(key, None) is None:  # the worker has it: the DM, then
                    waiting.shown.set_result(False)
                await ack()
                return
        finally:
            self._waiting.pop(key, None)
        refusal = next((m for m in reply.messages if m.refused), None)
        field = _first_input(body.get("view") or {})
        if refusal is not None and field:
            await ack(response_action="errors", errors={field: render.plain(refusal.text)[:1000]})
            waiting.shown.set_result(True)
            return
        await ack()
        waiting.shown.set_result(False)

    # -- the worker's side: answer a stored request ----------------------------------------------

    async def process(self, job: Job) -> None:
        body = json.loads(job.row.body)
        kind = job.row.kind
        if kind == "command":
            await self._command(body, job)
        elif kind == "message":
            await self._message(body, job)
        elif kind == "home":
            await self._home(body, job)
        elif kind == "action":
            await self._action(body, job)
        elif kind == "view":
            await self._submission(body, job)

    # -- slash command -------------------------------------------------------------------------

    async def _command(self, body: dict, job: Job) -> None:
        user = body["user_id"]
        ref = await self._ref(user, inbound.team_of(body), matched=_matched(job))
        reply = await self._answer(job, inbound.command_event(body, ref, self.clock.now()))
        response_url = body.get("response_url") if self._fresh(job) else None
        for message in reply.messages:
            if message.form is not None and body.get("trigger_id"):
                await self._open_form(body["trigger_id"], message, user)
            else:
                await self._ephemeral(response_url, user, message, reply.person_id)

    # -- direct message ------------------------------------------------------------------------

    async def _message(self, body: dict, job: Job) -> None:
        event = body["event"]
        ref = await self._ref(event["user"], inbound.team_of(body), event.get("channel", ""),
                              _matched(job))
        reply = await self._answer(job, inbound.message_event(body, ref, self.clock.now()))
        for message in reply.messages:
            await self._post(event["channel"], message)

    # -- App Home ------------------------------------------------------------------------------

    async def _home(self, body: dict, job: Job) -> None:
        """The pair's status, as the `status` verb tells it, on the Home tab."""
        event = body["event"]
        user = event["user"]
        ref = await self._ref(user, inbound.team_of(body), event.get("channel", ""),
                              _matched(job))
        reply = await self._answer(job, TextReceived(ref, "status", self.clock.now()))
        if not reply.messages:
            return
        hint = self.texts.render(await self._language(reply.person_id), "slack/home_hint")
        await self.client.views_publish(user_id=user, view=render.home(reply.messages, hint))

    # -- buttons -------------------------------------------------------------------------------

    async def _action(self, body: dict, job: Job) -> None:
        user = body["user"]["id"]
        container = body.get("container") or {}
        ephemeral = bool(container.get("is_ephemeral"))
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        in_message = container.get("type") == "message"
        dm = channel if in_message and not ephemeral else ""
        ref = await self._ref(user, inbound.team_of(body), dm, _matched(job))
        reply = await self._answer(job, inbound.action_event(body, ref, self.clock.now()))
        if not reply.messages:
            return  # a retry of a press already handled
        fresh = self._fresh(job)
        opens_form = any(m.form is not None for m in reply.messages)
        if in_message and not opens_form:
            await self._mark_answered(body, channel, ephemeral, reply.person_id)
        for message in reply.messages:
            if message.form is not None and body.get("trigger_id"):
                await self._open_form(body["trigger_id"], message, user)
            elif ephemeral:
                await self._ephemeral(body.get("response_url") if fresh else None, user, message,
                                      reply.person_id)
            elif in_message and channel.startswith("D"):
                await self._post(channel, message)
            else:
                await self._post(await self.messenger.dm_channel(user), message)

    async def _mark_answered(self, body: dict, channel: str, ephemeral: bool,
                             person_id: int | None) -> None:
        """Replace the pressed group of buttons with "✓ You chose: 4", so it is answered once."""
        action = body["actions"][0]
        original = (body.get("message") or {}).get("blocks") or []
        block_id = action.get("block_id", "")
        if not any(block.get("block_id") == block_id for block in original):
            return  # Slack sends no copy of an ephemeral message; the engine still refuses a repeat
        label = (action.get("text") or {}).get("text", "")
        line = self.texts.render(await self._language(person_id), "slack/chosen", label=label)
        blocks = render.answered(original, block_id, line)
        text = (body.get("message") or {}).get("text") or label
        try:
            if ephemeral:
                await self._respond(body.get("response_url"), {
                    "replace_original": True, "text": text, "blocks": blocks})
            else:
                ts = (body.get("container") or {}).get("message_ts") or body["message"]["ts"]
                await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except Exception as error:
            log.warning("could not update an answered Slack message: %s", failure(error).reason)

    # -- forms (modals) ------------------------------------------------------------------------

    async def _open_form(self, trigger_id: str, message: Message, user: str) -> None:
        view = render.modal(message.form, message.text, {"user": user})
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except Exception as error:  # the trigger expired (3 s): say it in the DM instead
            log.warning("could not open a Slack modal: %s", failure(error).reason)
            await self._post(await self.messenger.dm_channel(user), Message(message.text))

    async def _submission(self, body: dict, job: Job) -> None:
        user = body["user"]["id"]
        ref = await self._ref(user, inbound.team_of(body), matched=_matched(job))
        reply = await self._answer(job, inbound.view_event(body, ref, self.clock.now()))
        waiting = self._waiting.pop(f"view:{body.get('trigger_id')}", None)
        if waiting is not None:  # the ack is still open: it may show a refusal on the form
            waiting.reply.set_result(reply)
            if await waiting.shown:
                return
        await self._deliver(user, reply)

    async def _deliver(self, user: str, reply: Reply) -> None:
        if reply.messages:
            channel = await self.messenger.dm_channel(user)
            for message in reply.messages:
                await self._post(channel, message)

    # -- shared --------------------------------------------------------------------------------

    def _fresh(self, job: Job) -> bool:
        """Whether the request's response_url still works; after that, the DM."""
        return self.wall() - job.row.received_at < RESPONSE_URL_VALID

    async def _answer(self, job: Job, event) -> Reply:
        reply = await job.answer(event)
        self.identities.answered(event.ref.user_id, reply.person_id,
                                 failed=bool(reply.failure) or not reply.messages)
        return reply

    async def _ref(self, user: str, team: str, channel: str = "", matched: bool | None = None):
        """Matched by email once (users.info), by Slack id ever after (bot/platform.py)."""
        email = await self.identities.email_if_needed(user, lambda: self._email(user), matched)
        return inbound.ref_for(user, team, email, channel, self._locales.get(user, ""))

    async def on_user_change(self, body: dict) -> None:
        """A profile changed (its email, perhaps): forget what this process cached about it."""
        user = (body.get("event") or {}).get("user")
        user_id = user.get("id") if isinstance(user, dict) else None
        if isinstance(user_id, str):
            self._emails.pop(user_id, None)
            self.identities.forget(user_id)

    async def _email(self, user: str) -> str:
        cached = self._emails.get(user)
        if cached and time.monotonic() - cached[0] < EMAIL_CACHE_SECONDS:
            return cached[1]
        try:
            response = await self._lookup_client().users_info(user=user, include_locale=True)
            email = ((response.get("user") or {}).get("profile") or {}).get("email") or ""
            # Someone on no roster is answered in their Slack language ("da-DK").
            self._locales[user] = str((response.get("user") or {}).get("locale") or "")
        except Exception as error:
            log.warning("users.info failed: %s", failure(error).reason)
            return ""
        self._emails[user] = (time.monotonic(), email)
        return email

    async def _language(self, person_id: int | None) -> str:
        return await language_of(self.db, person_id)

    async def _post(self, channel: str, message: Message) -> None:
        try:
            await self.messenger.post(channel, message)
        except Exception as error:
            log.warning("could not post a reply in Slack: %s", failure(error).reason)

    async def _ephemeral(self, response_url: str | None, user: str, message: Message,
                         person_id: int | None) -> None:
        """Only the sender sees it; a file goes to the sender's DM, never into a channel."""
        extra: list[dict] = []
        files = files_of(message)  # its file, and its whole text when too long for blocks
        if files:
            try:
                dm = await self.messenger.dm_channel(user)
                for attachment in files:
                    await self.messenger.upload(dm, attachment)
                    hint = self.texts.render(await self._language(person_id), "slack/file_in_dm",
                                             name=attachment[0])
                    extra.append(render.context(hint))
            except Exception as error:
                log.warning("file upload to a Slack DM failed: %s", failure(error).reason)
        blocks = render.blocks(message)[:render.MAX_BLOCKS - len(extra)] + extra
        payload = {"response_type": "ephemeral", "replace_original": False,
                   "text": render.fallback(message), "blocks": blocks}
        if response_url:
            await self._respond(response_url, payload)
        else:
            await self._post(await self.messenger.dm_channel(user), message)

    async def _respond(self, response_url: str | None, payload: dict) -> None:
        if not response_url:
            return
        if self._http is None or self._http.closed:  # one connection pool, not one per answer
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            await AsyncWebhookClient(response_url, timeout=10,
                                     session=self._http).send_dict(payload)
        except Exception as error:
            log.warning("could not answer through Slack's response_url: %s", type(error).__name__)


def _matched(job: Job) -> bool | None:
    """Whether the sender was matched to a person when the row was claimed (storage/inbox.py)."""
    return getattr(job.row, "known", None)


def _first_input(view: dict) -> str:
    inputs = [b.get("block_id", "") for b in view.get("blocks") or [] if b.get("type") == "input"]
    return inputs[0] if inputs else ""
