"""A hand-written fake of the Bot Framework connector service (Teams' `serviceUrl`), for tests.

It records every activity the bot posts or updates, answers roster look-ups from a table made
from examples/roster.csv, and can be told to answer the next calls with an error, or (with
`make_chaos`) to trouble a random share of activity calls: 429, 500, timeouts and drops.
Like Teams, it refuses an activity over 100 KB (counted as UTF-16) with 413. It also plays
the user's OneDrive for the file consent flow: an upload URL per accepted file.
"""
from __future__ import annotations

import asyncio
import csv
import itertools
import json
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from app import build
from bot.routing import RoutingMessenger
from bot.web import INBOX, make_app
from tests.fake_slack_api import Chaos

ROSTER = Path(__file__).resolve().parent.parent / "examples" / "roster.csv"
CONSENT_TYPE = "application/vnd.microsoft.teams.card.file.consent"
INFO_TYPE = "application/vnd.microsoft.teams.card.file.info"
TEAMS_LIMIT = 100 * 1024  # what Teams accepts in one activity, in UTF-16 bytes
largest_activity = [0, ""]  # the largest activity any fake connector saw: (bytes, first words)
cards_checked: list[int] = [0]  # Adaptive Cards received and validated against their schema
card_problems: list[str] = []  # what was wrong with any of them
BOT_ID = "28:mentor-bot"
EMULATOR = {"TEAMS_EMULATOR": "1"}  # Teams without token validation, as for the Emulator
TENANT = "72f988bf-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class TeamsUser:
    email: str
    name: str
    id: str  # the Teams user id ("29:…")
    aad_object_id: str
    conversation_id: str  # their personal chat with the bot

    def account(self, with_aad: bool = True) -> dict:
        account = {"id": self.id, "name": self.name}
        if with_aad:
            account["aadObjectId"] = self.aad_object_id
        return account

    def member(self) -> dict:
        return {"id": self.id, "aadObjectId": self.aad_object_id, "email": self.email,
                "userPrincipalName": self.email, "name": self.name, "tenantId": TENANT}


def teams_user(email: str, name: str = "") -> TeamsUser:
    slug = email.split("@")[0].replace(".", "-")
    return TeamsUser(email=email, name=name or slug, id=f"29:{slug}",
                     aad_object_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"aad:{email}")),
                     conversation_id=f"a:personal-{slug}")


def roster_users() -> dict[str, TeamsUser]:
    with ROSTER.open(encoding="utf-8") as handle:
        return {row["email"]: teams_user(row["email"], row["name"])
                for row in csv.DictReader(handle)}


@dataclass
class Call:
    method: str
    conversation_id: str
    activity_id: str  # the replied-to or updated activity ("" for a new message)
    body: dict
    authorization: str
    status: int
    id: str = ""  # the id the connector gave the activity
    chaos: str = ""  # the trouble make_chaos() gave this call, if any (see Chaos)

    @property
    def text(self) -> str:
        return self.body.get("text", "")

    @property
    def card(self) -> dict | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment["content"]
        return None

    @property
    def card_texts(self) -> list[str]:
        card = self.card or {}
        return [b["text"] for b in card.get("body", []) if b.get("type") == "TextBlock"]

    @property
    def consent(self) -> dict | None:
        """The FileConsentCard in this activity, if any: {name, content: {sizeInBytes, ...}}."""
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == CONSENT_TYPE:
                return attachment
        return None

    @property
    def file_info(self) -> dict | None:
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == INFO_TYPE:
                return attachment
        return None

    @property
    def shown(self) -> str:
        """Everything the user reads in this activity: the text, or the card's text blocks."""
        return "\n\n".join([self.text, *self.card_texts]).strip()


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    code: str = ""


class FakeConnector:
    def __init__(self) -> None:
        self.users = roster_users()
        self.calls: list[Call] = []  # every activity call, failed ones included
        self.lookups: list[str] = []
        self._failures: list[Failure] = []
        self.chaos: Chaos | None = None
        self._ids = itertools.count(1)
        self.server: TestServer | None = None
        self.uploads: dict[str, bytes] = {}  # upload id -> the bytes the bot PUT there
        self.upload_headers: list[dict[str, str]] = []
        self.expired_uploads: set[str] = set()  # upload ids whose session ran out

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))

    async def start(self) -> "FakeConnector":
        app = web.Application()
        app.router.add_post("/v3/conversations/{conversation}/activities", self._post)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._post)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._put)
        app.router.add_get("/v3/conversations/{conversation}/members/{member}", self._member)
        app.router.add_put("/upload/{upload}", self._upload)
        self.server = TestServer(app, host="127.0.0.1", port=0)
        await self.server.start_server()
        return self

    async def close(self) -> None:
        if self.server is not None:
            await self.server.close()

    def fail_next(self, status: int, times: int = 1, *, retry_after: str = "",
                  code: str = "") -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        self._failures.extend(Failure(status, headers, code) for _ in range(times))

    def make_chaos(self, share: float, **options) -> Chaos:
        """Trouble `share` of the activity calls from now on; `self.chaos = None` stops it.

        A troubled call that took effect ("-after") is recorded as delivered, with its id."""
        self.chaos = Chaos(share, **options)
        return self.chaos

    # What the bot sent ------------------------------------------------------------------------
    def delivered(self, conversation_id: str | None = None) -> list[Call]:
        """Messages that arrived (posted with success), oldest first."""
        return [c for c in self.calls if c.method == "POST" and c.status < 300
                and (conversation_id is None or c.conversation_id == conversation_id)]

    def updates(self, conversation_id: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.method == "PUT" and c.status < 300
                and (conversation_id is None or c.conversation_id == conversation_id)]

    def texts(self, conversation_id: str) -> list[str]:
        return [c.shown for c in self.delivered(conversation_id)]

    # Handlers ---------------------------------------------------------------------------------
    async def _post(self, request: web.Request) -> web.Response:
        return await self._record(request, "POST")

    async def _put(self, request: web.Request) -> web.Response:
        return await self._record(request, "PUT")

    async def _record(self, request: web.Request, method: str) -> web.Response:
        body = await request.json()
        size = len(json.dumps(body, ensure_ascii=False).encode("utf-16-le"))
        self._check_cards(body)
        failure = self._failures.pop(0) if self._failures else None
        if failure is None and size > TEAMS_LIMIT:
            failure = Failure(413, code="MessageSizeTooBig")
        if failure is None and size > largest_activity[0]:
            largest_activity[:] = [size, str(body.get("text") or body.get("summary") or "")[:60]]
        trouble = self.chaos.pick(method) if self.chaos is not None and failure is None else ""
        if trouble in ("429", "500"):
            failure = Failure(int(trouble), {"Retry-After": str(self.chaos.retry_after)}
                              if trouble == "429" else {})
        call = Call(method, request.match_info["conversation"],
                    request.match_info.get("activity", ""), body,
                    request.headers.get("Authorization", ""),
                    failure.status if failure else 201 if method == "POST" else 200,
                    chaos=trouble)
        self.calls.append(call)
        if failure is not None:
            return web.json_response({"error": {"code": failure.code or "Throttled",
                                                "message": "fake failure"}},
                                     status=failure.status, headers=failure.headers)
        if trouble.endswith("-before"):
            call.status = 0  # no answer, no effect
            return await self._no_answer(request, trouble)
        call.id = call.activity_id if method == "PUT" else f"1:{next(self._ids)}"
        if trouble.endswith("-after"):  # delivered, but the bot never hears so
            return await self._no_answer(request, trouble)
        if self.chaos is not None and (request.transport is None
                                       or request.transport.is_closing()):
            call.chaos = "late"  # the bot gave up (its own timeout) before the answer
        return web.json_response({"id": call.id}, status=call.status)

    async def _no_answer(self, request: web.Request, trouble: str) -> web.Response:
        if trouble.startswith("timeout"):
            await asyncio.sleep(self.chaos.hang if self.chaos is not None else 1.0)
        else:
            request.transport.abort()
        return web.Response(status=504, text="too late")

    @staticmethod
    def _check_cards(body: dict) -> None:
        from tests.schemas import card_errors
        for attachment in body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                cards_checked[0] += 1
                card_problems.extend(card_errors(attachment.get("content") or {}))

    def upload_url(self, upload_id: str) -> str:
        return str(self.server.make_url(f"/upload/{upload_id}"))

    async def _upload(self, request: web.Request) -> web.Response:
        """OneDrive's upload session: the whole file in one PUT with its Content-Range."""
        upload_id = request.match_info["upload"]
        self.upload_headers.append(dict(request.headers))
        if upload_id in self.expired_uploads:
            return web.json_response({"error": {"code": "itemNotFound"}}, status=404)
        content = await request.read()
        if request.headers.get("Content-Range") != f"bytes 0-{len(content) - 1}/{len(content)}":
            return web.json_response({"error": {"code": "invalidRange"}}, status=416)
        self.uploads[upload_id] = content
        return web.json_response({"id": upload_id, "size": len(content)}, status=201)

    async def _member(self, request: web.Request) -> web.Response:
        wanted = request.match_info["member"]
        self.lookups.append(wanted)
        for user in self.users.values():
            if wanted in (user.id, user.aad_object_id):
                return web.json_response(user.member())
        return web.json_response({"error": {"code": "MemberNotFoundInConversation"}},
                                 status=404)


class VirtualTime:
    """A monotonic clock and sleep for the bot's connector client: backoff and pacing, instantly."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class FakeTeams:
    """Plays the Teams service: posts activities to the bot's /api/messages as Teams would."""

    def __init__(self, bot_url: str, connector: FakeConnector, http) -> None:
        self.bot_url = bot_url
        self.connector = connector
        self.http = http
        self._ids = itertools.count(1)
        self.settle = None  # waits for the bot's inbox worker (set by serve_bot)

    def user(self, email: str) -> TeamsUser:
        return self.connector.users[email]

    def activity(self, user: TeamsUser, kind: str = "message", *, activity_id: str = "",
                 with_aad: bool = True, **fields) -> dict:
        return {
            "type": kind, "id": activity_id or f"f:{next(self._ids)}",
            "timestamp": "2026-09-01T06:00:00.000Z", "serviceUrl": self.connector.url,
            "channelId": "msteams", "from": user.account(with_aad),
            "conversation": {"id": user.conversation_id, "conversationType": "personal",
                             "tenantId": TENANT},
            "recipient": {"id": BOT_ID, "name": "Mentor"},
            "channelData": {"tenant": {"id": TENANT}}, **fields}

    async def post(self, activity: dict, headers: dict | None = None) -> tuple[int, list[Call]]:
        """Post one activity; the HTTP status and the connector calls made while handling it."""
        before = len(self.connector.calls)
        async with self.http.post(self.bot_url, json=activity, headers=headers or {}) as response:
            await response.read()
        if self.settle is not None:  # the reply comes from the inbox worker, after the 200
            await self.settle()
        return response.status, self.connector.calls[before:]

    async def say(self, email: str, text: str, **fields) -> list[Call]:
        status, calls = await self.post(self.activity(self.user(email), text=text, **fields))
        assert status == 200
        return [c for c in calls if c.method == "POST"]

    async def install(self, email: str, with_aad: bool = False) -> list[Call]:
        """What Teams sends when a user adds the bot: conversationUpdate with membersAdded."""
        user = self.user(email)
        activity = self.activity(user, "conversationUpdate", with_aad=with_aad,
                                 membersAdded=[user.account(with_aad), {"id": BOT_ID}])
        status, calls = await self.post(activity)
        assert status == 200
        return [c for c in calls if c.method == "POST"]

    async def submit(self, email: str, card_id: str, value: dict, **fields) -> list[Call]:
        """A press on an Adaptive Card's Action.Submit: a message with `value` and no text."""
        activity = self.activity(self.user(email), replyToId=card_id, value=value, **fields)
        status, calls = await self.post(activity)
        assert status == 200
        return calls


    async def answer_consent(self, email: str, offer: Call, accept: bool = True,
                             upload_id: str = "") -> tuple[int, list[Call]]:
        """The user presses Allow (or Decline) on a FileConsentCard: a `fileConsent/invoke`."""
        card = offer.consent
        assert card is not None, "no FileConsentCard in that activity"
        content = card["content"]
        value: dict = {"type": "fileUpload", "action": "accept" if accept else "decline",
                       "context": content["acceptContext" if accept else "declineContext"]}
        if accept:
            upload_id = upload_id or f"u{next(self._ids)}"
            value["uploadInfo"] = {
                "contentUrl": f"https://contoso.sharepoint.com/personal/Documents/{card['name']}",
                "name": card["name"], "uploadUrl": self.connector.upload_url(upload_id),
                "uniqueId": upload_id, "fileType": card["name"].rsplit(".", 1)[-1]}
        activity = self.activity(self.user(email), "invoke", name="fileConsent/invoke",
                                 value=value, replyToId=offer.id)
        return await self.post(activity)


@dataclass
class Running:
    services: object
    router: RoutingMessenger
    banner: list[str]
    teams: FakeTeams
    connector: FakeConnector
    time: VirtualTime
    bot: TestServer
    http: aiohttp.ClientSession

    async def close(self, keep_connector: bool = False) -> None:
        await self.http.close()
        await self.bot.close()
        if not keep_connector:
            await self.connector.close()


async def serve_bot(db, clock, env: dict[str, str] | None = None,
                    connector: FakeConnector | None = None) -> Running:
    """The real aiohttp app from `bot.web.make_app` on 127.0.0.1, with the fake connector.

    Teams runs in Emulator mode (TEAMS_EMULATOR=1) unless `env` says otherwise."""
    router = RoutingMessenger({}, None)
    services = build(clock=clock, messenger=router, db=db, worker="test")
    app, banner = make_app(services, router, EMULATOR if env is None else env)
    time = VirtualTime()
    if "teams" in router.messengers:  # Teams is off without an app id or TEAMS_EMULATOR=1
        router.messengers["teams"].connector.use_timing(time.sleep, time.monotonic)
    bot = TestServer(app, host="127.0.0.1", port=0)
    await bot.start_server()
    router.messengers["teams"].files.public_url = str(bot.make_url("")).rstrip("/")
    connector = connector or await FakeConnector().start()
    http = aiohttp.ClientSession()
    teams = FakeTeams(str(bot.make_url("/api/messages")), connector, http)
    teams.settle = app[INBOX].idle
    return Running(services, router, banner, teams, connector, time, bot, http)


def refuse_internet(monkeypatch) -> list[str]:
    """Name look-ups for anything but this machine fail (and are listed): tests stay offline."""
    attempts: list[str] = []
    real = socket.getaddrinfo

    def local_only(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", None):
            attempts.append(str(host))
            raise OSError(f"tests may not reach {host}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)
    return attempts
