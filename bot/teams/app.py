"""Teams adapter: the Bot Framework endpoint `POST /api/messages` and the Teams messenger.

Only translation and delivery live here: an activity becomes a neutral event for the engine,
its reply goes back as markdown or an Adaptive Card. A verified activity is stored in the
inbox before Teams gets its 200; the inbox worker answers it through `process` (bot/inbox/).
The endpoint exists only when asked for: with MICROSOFT_APP_ID every request's token is
validated; TEAMS_EMULATOR=1 serves it without validation for the Bot Framework Emulator, on a
loopback address only, calling loopback addresses only (see bot/teams/service_urls.py). With
neither, /api/messages is a 404. `TEAMS_PLATFORM` is this adapter's side of bot/platform.py.
"""
from __future__ import annotations

import json
import logging
import uuid

from aiohttp import web

from bot.inbox.worker import InboxWorker, Job
from bot.platform import Identities, Platform
from bot.teams.auth import AuthUnavailable, BotAuth, Settings, Unauthorized
from bot.teams.connector import Connector
from bot.teams.files import INVOKE_NAME, TeamsFiles
from bot.teams.inbound import PLATFORM, is_card_submit, parse, ref_for, to_event, user_id_of
from bot.teams.messenger import SentCards, TeamsMessenger
from bot.teams.render import answered, submit_label
from bot.teams.service_urls import ServiceUrls, is_loopback_host
from conversations.engine import Reply
from conversations.messages import Message, TextReceived
from conversations.outbox import DeliveryFailed
from storage.db import Unavailable
from storage.inbox import Inbound

log = logging.getLogger(__name__)
ROUTE = "/api/messages"
ENDPOINT = web.AppKey("teams_endpoint", object)
PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP")


def configured(env: dict[str, str]) -> bool:
    return bool((env.get("MICROSOFT_APP_ID") or "").strip()) or _emulator(env)


def not_configured_line(env: dict[str, str]) -> str:
    return ("Teams: off (set MICROSOFT_APP_ID and MICROSOFT_APP_PASSWORD to serve Teams, "
            "or TEAMS_EMULATOR=1 for the Bot Framework Emulator on a loopback HOST)")


def reaches_people(env: dict[str, str]) -> bool:
    return bool((env.get("MICROSOFT_APP_ID") or "").strip())


def _replicas(env: dict[str, str]) -> int:
    """REPLICAS=N: each replica paces at 1/N of the app's budget (bot/teams/connector.py)."""
    try:
        return max(int(env.get("REPLICAS") or 1), 1)
    except ValueError:
        return 1


def _emulator(env: dict[str, str]) -> bool:
    return (env.get("TEAMS_EMULATOR") or "").strip() == "1"


def attach(app: web.Application, services, router, env: dict[str, str], inbox) -> str:
    settings = Settings.from_env(env)
    emulator = _emulator(env)
    if emulator and settings.app_id:
        raise ValueError("TEAMS_EMULATOR=1 serves Teams without token validation and cannot be "
                         "combined with MICROSOFT_APP_ID; unset one of them")
    host = env.get("HOST") or "127.0.0.1"
    if emulator and not is_loopback_host(host):
        raise ValueError(f"TEAMS_EMULATOR=1 needs a loopback HOST (127.0.0.1, ::1 or localhost), "
                         f"not HOST={host}: the Emulator endpoint trusts whoever can reach it")
    service_urls = ServiceUrls.from_env(env, emulator=emulator)
    auth = BotAuth(settings)
    connector = Connector(auth.bot_token, service_urls, replicas=_replicas(env))
    files = TeamsFiles(services.db, services.clock, services.texts,
                       public_url=env.get("PUBLIC_URL", ""), allow_http_upload=not auth.enabled)
    messenger = TeamsMessenger(connector, SentCards(), files,
                               bot_id=f"28:{settings.app_id}" if settings.app_id else "")
    endpoint = TeamsEndpoint(services, auth, messenger, service_urls, inbox)
    inbox.processors[PLATFORM] = endpoint
    app.router.add_post(ROUTE, endpoint.handle)
    app[ENDPOINT] = endpoint

    async def close_connector(_app: web.Application) -> None:
        await connector.close()
        await files.close()

    app.on_cleanup.append(close_connector)
    router.messengers[PLATFORM] = messenger
    if settings.app_id:
        return (f"Teams: live at {ROUTE} (app id {settings.app_id[:4]}…, "
                f"{settings.app_type}, token validation on)")
    return (f"Teams: live at {ROUTE} (TEAMS_EMULATOR=1: unauthenticated, for the Bot Framework "
            f"Emulator on this machine only)")


class TeamsEndpoint:
    def __init__(self, services, auth: BotAuth, messenger: TeamsMessenger,
                 service_urls: ServiceUrls, inbox: InboxWorker) -> None:
        self.engine = services.engine
        self.texts = services.texts
        self.clock = services.clock
        self.wall = services.wall.now
        self.inbox = inbox
        self.identities = Identities(PLATFORM, services.engine.is_known, inbox.in_thread)
        self.auth = auth
        self.messenger = messenger
        self.connector = messenger.connector
        self.service_urls = service_urls

    @property
    def emulator(self) -> bool:
        return not self.auth.enabled

    async def handle(self, request: web.Request) -> web.Response:
        if self.emulator and (not is_loopback_host(_peer(request))
                              or any(name in request.headers for name in PROXY_HEADERS)):
            # A tunnel or proxy in front of the Emulator endpoint would let anyone in.
            log.warning("Teams request refused: Emulator mode answers this machine only")
            return web.json_response({"error": "forbidden"}, status=403)
        header = request.headers.get("Authorization", "")
        if self.auth.enabled and not header.strip():
            return _refuse("no Authorization header")
        activity = parse(await request.read())
        if activity is None:
            return web.Response(status=400, text="expected a JSON activity")
        try:
            await self.auth.check(activity, header)
        except Unauthorized as error:
            return _refuse(str(error))
        except AuthUnavailable as error:
            log.warning("Teams token keys unavailable (%s); asking the channel to retry", error)
            return web.Response(status=503, headers={"Retry-After": "5"})
        service_url = str(activity.get("serviceUrl") or "")
        if service_url and (reason := self.service_urls.why_not(service_url)):
            log.warning("Teams request refused: %s", reason)
            return web.json_response({"error": "forbidden"}, status=403)
        kind = _kind(activity)
        if kind:
            try:
                await self.store(kind, activity)
            except Unavailable:
                log.warning("database unavailable: a Teams activity was not stored")
                if kind == "message" and await self.try_again_later(activity):
                    return web.Response(status=200)  # told: Teams need not redeliver it
                return web.Response(status=503, headers={"Retry-After": "5"})
        if activity["type"] == "invoke":
            return web.json_response({})
        return web.Response(status=200)

    async def try_again_later(self, activity: dict) -> bool:
        """The database is away and the message was not stored: say so in the sender's
        language (remembered from their last turn here, else the activity's locale), as the
        reply to it. False if that failed too."""
        language = self.engine.language_for(PLATFORM, user_id_of(activity.get("from") or {}),
                                            str(activity.get("locale") or ""))
        text = self.texts.render(language, "errors/try_again")
        try:
            await self.messenger.post(str(activity.get("serviceUrl", "")),
                                      _conversation_id(activity), Message(text),
                                      reply_to=str(activity.get("id") or ""))
        except DeliveryFailed as failure:
            log.warning("Teams 'try again' not delivered: %s", failure.reason)
            return False
        return True

    async def store(self, kind: str, activity: dict) -> None:
        """Into the inbox under the activity's id (a redelivery is stored once)."""
        sender = user_id_of(activity.get("from") or {})
        key = str(activity.get("id") or "") or uuid.uuid4().hex
        await self.inbox.store(Inbound(
            key=f"{PLATFORM}:{kind}:{key}", platform=PLATFORM, kind=kind,
            sender=f"{PLATFORM}:{sender}", body=json.dumps(activity), received_at=self.wall()))

    async def process(self, job: Job) -> None:
        """The inbox worker's call: answer one stored activity."""
        activity = json.loads(job.row.body)
        if job.row.kind == "message":
            await self.on_message(activity, job)
        elif job.row.kind == "install":
            await self.on_members_added(activity, job)
        elif job.row.kind == "consent":
            await self.on_file_consent(activity)

    async def on_message(self, activity: dict, job: Job) -> None:
        user_id, email = await self.identify(activity, activity.get("from") or {})
        if not user_id:
            return
        event = to_event(activity, ref_for(activity, user_id, email), self.clock.now())
        if event is None:
            return
        reply = await self._answer(job, event)
        if is_card_submit(activity) and reply.messages \
                and not any(m.refused for m in reply.messages):
            await self.close_card(activity)
        await self.reply(activity, reply.messages, reply_to=str(activity.get("id") or ""),
                         person_id=reply.person_id)

    async def on_members_added(self, activity: dict, job: Job) -> None:
        """Installed for a user: store their conversation reference and greet them."""
        conversation = activity.get("conversation") or {}
        if conversation.get("conversationType", "personal") != "personal":
            return
        bot_id = (activity.get("recipient") or {}).get("id")
        added = [m for m in activity.get("membersAdded") or [] if isinstance(m, dict)]
        users = [m for m in added if m.get("id") != bot_id]
        if not users and added:  # Teams names only the bot on a personal install
            users = [activity.get("from") or {}]
        for member in users[:1]:  # a personal chat has one person
            user_id, email = await self.identify(activity, member)
            if not user_id:
                continue
            greeting = TextReceived(ref_for(activity, user_id, email), "help", self.clock.now())
            reply = await self._answer(job, greeting)
            await self.reply(activity, reply.messages, person_id=reply.person_id)

    async def _answer(self, job: Job, event) -> Reply:
        reply = await job.answer(event)
        self.identities.answered(event.ref.user_id, reply.person_id,
                                 failed=bool(reply.failure) or not reply.messages)
        return reply

    async def on_file_consent(self, activity: dict) -> None:
        """The user accepted or declined a file (bot/teams/files.py does the work)."""
        user_id, _ = await self.identify(activity, activity.get("from") or {})
        await self.reply(activity, await self.messenger.files.on_consent(activity, user_id))

    async def identify(self, activity: dict, account: dict) -> tuple[str, str]:
        """The user's stable id, and their email when they are not matched to a person yet.

        The roster look-up happens once: after it, the AAD object id finds the person.
        """
        user_id = str(account.get("aadObjectId") or "")
        if user_id and await self.identities.known(user_id):
            return user_id, ""
        if not user_id and account.get("id") and await self.identities.known(str(account["id"])):
            return str(account["id"]), ""
        member = await self.connector.member(str(activity.get("serviceUrl", "")),
                                             _conversation_id(activity),
                                             str(account.get("id") or user_id))
        email = ""
        if member:
            user_id = user_id or str(member.get("aadObjectId") or "")
            email = str(member.get("email") or member.get("userPrincipalName") or "")
        if not email and self.emulator and "@" in str(account.get("id", "")):
            # TEAMS_EMULATOR=1 only: the developer at this machine types an email as user id.
            email = str(account["id"])
        return user_id or user_id_of(account), email

    async def reply(self, activity: dict, messages: list[Message | dict], reply_to: str = "",
                    person_id: int | None = None) -> None:
        addressing = {"conversation": activity.get("conversation") or {},
                      "from": activity.get("recipient") or {},
                      "recipient": activity.get("from") or {}}
        if reply_to:
            addressing["replyToId"] = reply_to
        personal = (activity.get("conversation") or {}).get("conversationType",
                                                             "personal") == "personal"
        for message in messages:
            try:
                if isinstance(message, dict):  # an activity ready to send (a file info card)
                    await self.messenger.send_activity(
                        str(activity.get("serviceUrl", "")), _conversation_id(activity),
                        message, reply_to=reply_to, addressing=addressing)
                    continue
                await self.messenger.post(str(activity.get("serviceUrl", "")),
                                          _conversation_id(activity), message,
                                          reply_to=reply_to, addressing=addressing,
                                          person_id=person_id, personal=personal)
            except DeliveryFailed as failure:
                log.warning("Teams reply not delivered: %s", failure.reason)
                return

    async def close_card(self, activity: dict) -> None:
        """The submitted card loses its actions, so it cannot be submitted twice."""
        card_id = str(activity.get("replyToId") or "")
        if not card_id:
            return
        conversation_id = _conversation_id(activity)
        sent = self.messenger.cards.get(conversation_id, card_id)
        value = activity["value"]
        label = submit_label(sent, value["action"], str(value.get("value") or ""))
        try:
            await self.messenger.replace_card(str(activity.get("serviceUrl", "")),
                                              conversation_id, card_id, answered(sent, label))
        except DeliveryFailed as failure:
            log.warning("Teams card not updated: %s", failure.reason)


def _kind(activity: dict) -> str:
    """What of an activity is stored for the worker: messages, a personal install, a file
    consent; "" for the rest (answered 200 and dropped)."""
    kind = activity["type"]
    if kind == "message":
        return "message"
    if kind == "conversationUpdate" and activity.get("membersAdded") \
            and (activity.get("conversation") or {}).get("conversationType",
                                                         "personal") == "personal":
        return "install"
    if kind == "invoke" and activity.get("name") == INVOKE_NAME:
        return "consent"
    return ""


def _peer(request: web.Request) -> str:
    return request.remote or ""


def _conversation_id(activity: dict) -> str:
    return str((activity.get("conversation") or {}).get("id", ""))


def _refuse(reason: str) -> web.Response:
    log.warning("Teams request refused: %s", reason)
    return web.json_response({"error": "unauthorized"}, status=401)


TEAMS_PLATFORM = Platform(PLATFORM, configured, not_configured_line, reaches_people, attach)
