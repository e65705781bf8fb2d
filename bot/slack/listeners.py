"""Slack adapter, listeners: acknowledge at once, then ask the engine and deliver its reply.

Slack wants every request answered within three seconds, so each listener acks first and the
work (identity lookup, the engine's unit of work, outgoing calls) runs in a tracked task.
Where a reply goes: a slash command's reply is ephemeral (only the sender sees it, even in a
channel); a DM is answered in the DM; a pressed button is answered where it was pressed; a
submitted form is answered in the DM. Nothing private is ever posted in a channel.
"""
from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Coroutine

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.language import language_of
from bot.slack import inbound, render
from bot.slack.messenger import SlackMessenger, failure, files_of
from conversations.engine import Engine, Reply
from conversations.messages import InboundEvent, Message, TextReceived

log = logging.getLogger(__name__)
ACK_BUDGET = 2.0  # seconds a form submit may spend before its ack (Slack allows 3)
EMAIL_CACHE_SECONDS = 600


class SlackChat:
    def __init__(self, services, client: AsyncWebClient, messenger: SlackMessenger,
                 ack_budget: float = ACK_BUDGET) -> None:
        self.engine: Engine = services.engine
        self.db, self.clock, self.texts = services.db, services.clock, services.texts
        self.client = client
        self.messenger = messenger
        self.ack_budget = ack_budget
        self._tasks: set[asyncio.Task] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self._emails: dict[str, tuple[float, str]] = {}

    def register(self, bolt: AsyncApp) -> None:
        bolt.command("/mentor")(self.on_command)
        bolt.event("message")(self.on_message)
        bolt.event("app_home_opened")(self.on_home)
        bolt.action(re.compile(".+"))(self.on_action)
        bolt.view_submission(re.compile(".+"))(self.on_view)

    # -- the work after the ack runs in tracked tasks ------------------------------------------

    def spawn(self, work: Coroutine) -> asyncio.Task:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.error("Slack work failed: %s (%s)", type(error).__name__, failure(error).reason)

    async def idle(self) -> None:
        """Wait until every piece of work started so far has finished (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- slash command -------------------------------------------------------------------------

    async def on_command(self, ack, body: dict) -> None:
        await ack()
        self.spawn(self._command(body))

    async def _command(self, body: dict) -> None:
        user = body["user_id"]
        ref = await self._ref(user, inbound.team_of(body))
        reply = await self._handle(inbound.command_event(body, ref, self.clock.now()))
        for message in reply.messages:
            if message.form is not None and body.get("trigger_id"):
                await self._open_form(body["trigger_id"], message, user)
            else:
                await self._ephemeral(body.get("response_url"), user, message, reply.person_id)

    # -- direct message ------------------------------------------------------------------------

    async def on_message(self, body: dict) -> None:
        if inbound.is_person_dm(body.get("event") or {}):
            self.spawn(self._message(body))

    async def _message(self, body: dict) -> None:
        event = body["event"]
        ref = await self._ref(event["user"], inbound.team_of(body), event.get("channel", ""))
        reply = await self._handle(inbound.message_event(body, ref, self.clock.now()))
        for message in reply.messages:
            await self._post(event["channel"], message)

    # -- App Home ------------------------------------------------------------------------------

    async def on_home(self, body: dict) -> None:
        if (body.get("event") or {}).get("tab") == "home":
            self.spawn(self._home(body))

    async def _home(self, body: dict) -> None:
        """The pair's status, as the `status` verb tells it, on the Home tab."""
        event = body["event"]
        user = event["user"]
        ref = await self._ref(user, inbound.team_of(body), event.get("channel", ""))
        event_id = f"event:{body['event_id']}" if body.get("event_id") else ""
        status = TextReceived(ref, "status", self.clock.now(), event_id=event_id)
        reply = await self._handle(status)
        if not reply.messages:
            return
        hint = self.texts.render(await self._language(reply.person_id), "slack/home_hint")
        await self.client.views_publish(user_id=user, view=render.home(reply.messages, hint))

    # -- buttons -------------------------------------------------------------------------------

    async def on_action(self, ack, body: dict) -> None:
        await ack()
        self.spawn(self._action(body))

    async def _action(self, body: dict) -> None:
        user = body["user"]["id"]
        container = body.get("container") or {}
        ephemeral = bool(container.get("is_ephemeral"))
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id", "")
        in_message = container.get("type") == "message"
        dm = channel if in_message and not ephemeral else ""
        ref = await self._ref(user, inbound.team_of(body), dm)
        reply = await self._handle(inbound.action_event(body, ref, self.clock.now()))
        if not reply.messages:
            return  # a retry of a press already handled
        opens_form = any(m.form is not None for m in reply.messages)
        if in_message and not opens_form:
            await self._mark_answered(body, channel, ephemeral, reply.person_id)
        for message in reply.messages:
            if message.form is not None and body.get("trigger_id"):
                await self._open_form(body["trigger_id"], message, user)
            elif ephemeral:
                await self._ephemeral(body.get("response_url"), user, message, reply.person_id)
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

    async def on_view(self, ack, body: dict) -> None:
        """Submit: answer within the ack when the engine is quick, so a refusal can be shown on
        the form itself; otherwise close the form and answer in the DM when done."""
        work = self.spawn(self._submission(body))
        done, _ = await asyncio.wait({work}, timeout=self.ack_budget)
        if work in done and work.exception() is None:
            reply = work.result()
            refusal = next((m for m in reply.messages if m.refused), None)
            field = _first_input(body.get("view") or {})
            if refusal is not None and field:
                await ack(response_action="errors",
                          errors={field: render.plain(refusal.text)[:1000]})
                return
            await ack()
            self.spawn(self._deliver(body["user"]["id"], reply))
            return
        await ack()
        self.spawn(self._deliver_later(body["user"]["id"], work))

    async def _submission(self, body: dict) -> Reply:
        user = body["user"]["id"]
        ref = await self._ref(user, inbound.team_of(body))
        return await self._handle(inbound.view_event(body, ref, self.clock.now()))

    async def _deliver_later(self, user: str, work: asyncio.Task) -> None:
        await asyncio.wait({work})
        if not work.cancelled() and work.exception() is None:
            await self._deliver(user, work.result())

    async def _deliver(self, user: str, reply: Reply) -> None:
        if reply.messages:
            channel = await self.messenger.dm_channel(user)
            for message in reply.messages:
                await self._post(channel, message)

    # -- shared --------------------------------------------------------------------------------

    async def _handle(self, event: InboundEvent) -> Reply:
        """One event at a time per person (a double click queues, then is refused)."""
        lock = self._locks.setdefault(event.ref.user_id, asyncio.Lock())
        async with lock:
            return await asyncio.to_thread(self.engine.handle, event)

    async def _ref(self, user: str, team: str, channel: str = ""):
        """Matched by email once (users.info), by Slack id ever after."""
        known = await asyncio.to_thread(self.engine.is_known, inbound.PLATFORM, user)
        email = "" if known else await self._email(user)
        return inbound.ref_for(user, team, email, channel)

    async def _email(self, user: str) -> str:
        cached = self._emails.get(user)
        if cached and time.monotonic() - cached[0] < EMAIL_CACHE_SECONDS:
            return cached[1]
        try:
            response = await self.client.users_info(user=user)
            email = ((response.get("user") or {}).get("profile") or {}).get("email") or ""
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
        try:
            await AsyncWebhookClient(response_url, timeout=10).send_dict(payload)
        except Exception as error:
            log.warning("could not answer through Slack's response_url: %s", type(error).__name__)


def _first_input(view: dict) -> str:
    inputs = [b.get("block_id", "") for b in view.get("blocks") or [] if b.get("type") == "input"]
    return inputs[0] if inputs else ""
