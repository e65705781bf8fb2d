"""A hand-written fake of the Slack Web API on 127.0.0.1 (port 0) that records every call.

It answers the methods the bot uses (auth.test, users.info, users.lookupByEmail,
conversations.open, conversations.history with message metadata, chat.*, views.*, the three
file-upload steps) and the `response_url` POSTs of slash commands and buttons. Tests can make
chosen calls answer 429 with Retry-After, 500, or `{"ok": false, "error": ...}`, make them slow,
or take a call and then drop the connection before answering (`then="drop"`); `chaos()`
troubles a random share of calls (429, 500, timeouts, dropped connections), off unless a test
turns it on. Message timestamps follow the `clock` it is given (the bot's; else the machine's),
as Slack's follow real time, so reading a DM back "since the claim" finds what was posted after.

`workspace()` is Slack's other side: the bot's real aiohttp app on port 0 and signed requests
to it (slash commands, DMs, button presses, modal submits, the Home tab), built as Slack does.
"""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import random
import time
import urllib.parse
import uuid
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

TEAM = "T0NORDLYS"
BOT_USER = "U0BOT"
# Slack ids for the people of examples/roster.csv, plus one stranger who is on no roster.
USERS = {
    "U01MAJA": "maja.kruse@example.org",
    "U02MADS": "mads.holm@example.org",
    "U03SOFIE": "sofie.lund@example.org",
    "U04GRACE": "grace.okafor@example.org",
    "U05JONAS": "jonas.berg@example.org",
    "U06PRIYA": "priya.raman@example.org",
    "U07TOM": "tom.becker@example.org",
    "U08LARS": "lars.nielsen@example.org",
    "U09ANNA": "anna.weiss@example.org",
    "U10OMAR": "omar.haddad@example.org",
    "U99STRANGER": "someone.else@example.com",
}


def dm_of(user: str) -> str:
    return "D" + user[1:]


@dataclass
class Call:
    method: str
    params: dict
    at: float  # time.monotonic() when the call arrived
    status: int = 200
    result: dict = field(default_factory=dict)  # what the fake answered
    chaos: str = ""  # the trouble chaos() gave this call, if any (see Chaos), or "late"


CHAOS_KINDS = ("429", "500", "timeout", "drop")


@dataclass
class Chaos:
    """Trouble on a random share of calls, as a platform has it on a bad day.

    429 (with Retry-After) and 500 take no effect. A timeout answers only after `hang` seconds
    (set it past the client's timeout), a drop closes the connection without an answer; each
    comes in two flavours: "-before" (nothing happened) and "-after" (the call took effect,
    e.g. the message was posted, but its answer never reached the caller). A call whose caller
    had already given up when the answer was ready is marked "late" (ambiguous too).
    """

    share: float
    seed: int = 0
    kinds: tuple[str, ...] = CHAOS_KINDS
    methods: tuple[str, ...] = ()  # empty: every method
    flavours: tuple[str, ...] = ("-before", "-after")  # of timeouts and drops
    hang: float = 1.0
    retry_after: int = 1
    injected: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def pick(self, method: str) -> str:
        """'' (no trouble) or one of 429, 500, timeout-before/after, drop-before/after."""
        if self.methods and method not in self.methods:
            return ""
        if self._random.random() >= self.share:
            return ""
        kind = self._random.choice(self.kinds)
        if kind in ("timeout", "drop"):
            kind += self._random.choice(self.flavours)
        self.injected[kind] += 1
        return kind


@dataclass
class Fault:
    method: str
    status: int = 200
    error: str = ""
    retry_after: int = 0
    times: int = 1  # how many calls it answers; 0 = every call
    when: dict = field(default_factory=dict)  # only calls whose params contain these values
    then: str = ""  # "drop": the call takes effect, then the connection drops unanswered


class FakeSlack:
    def __init__(self, users: dict[str, str] | None = None, clock=None) -> None:
        self.users = dict(users or USERS)
        self.locales: dict[str, str] = {}  # user id -> Slack locale, when users.info asks
        self.clock = clock
        self._last_ts = 0
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict]] = {}  # channel -> what was posted there (ok)
        self.faults: list[Fault] = []
        self.chaos: Chaos | None = None
        self.delays: dict[str, float] = {}
        self.held: dict[str, asyncio.Event] = {}
        self.uploads: dict[str, bytes] = {}
        self._ts = itertools.count(1)
        self._files = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- set-up ---------------------------------------------------------------------------------

    async def start(self) -> "FakeSlack":
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{key}", self._respond)
        app.router.add_post("/upload/{file_id}", self._upload)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{key}"

    def fail(self, method: str, *, status: int = 200, error: str = "", retry_after: int = 0,
             times: int = 1, then: str = "", **when: str) -> None:
        self.faults.append(Fault(method, status, error, retry_after, times, when, then))

    def slow(self, method: str, seconds: float) -> None:
        self.delays[method] = seconds

    def hold(self, method: str) -> asyncio.Event:
        """Calls of `method` get no answer until the returned event is set (or a minute has
        passed, so a test that forgets cannot hang): `call.result` stays {} until then."""
        self.held[method] = asyncio.Event()
        return self.held[method]

    def make_chaos(self, share: float, **options) -> Chaos:
        """Trouble `share` of the calls from now on (see Chaos); `self.chaos = None` stops it."""
        self.chaos = Chaos(share, **options)
        return self.chaos

    # -- what tests read --------------------------------------------------------------------------

    def to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def methods(self) -> list[str]:
        return [c.method for c in self.calls]

    def posts_in(self, channel: str) -> list[dict]:
        """The messages posted (and answered with ok) in a channel, oldest first, with their ts."""
        return [{**c.params, "ts": c.result["ts"]} for c in self.to("chat.postMessage")
                if c.params.get("channel") == channel and c.status == 200]

    def responses(self, key: str) -> list[dict]:
        return [c.params for c in self.to("response_url") if c.params.get("_key") == key]

    # -- handlers -------------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict:
        params: dict = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        for key in ("blocks", "view", "files", "users", "metadata"):
            value = params.get(key)
            if isinstance(value, str) and value[:1] in "[{":
                params[key] = json.loads(value)
        params["_auth"] = request.headers.get("Authorization", "")
        return params

    def _fault(self, method: str, params: dict) -> Fault | None:
        for fault in self.faults:
            matches = all(str(params.get(k)) == v for k, v in fault.when.items())
            if fault.method == method and matches:
                if fault.times == 1:
                    self.faults.remove(fault)
                elif fault.times > 1:
                    fault.times -= 1
                return fault
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        call = Call(method, params, time.monotonic())
        self.calls.append(call)
        if method in self.held:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.held[method].wait(), 60)
        if method in self.delays:
            await asyncio.sleep(self.delays[method])
        fault = self._fault(method, params)
        if fault is not None and fault.then == "drop":
            call.chaos = "drop-after"
            self._answer(method, params, call)
            return await self._no_answer(request, "drop-after")
        if fault is not None:
            call.status = fault.status
            if fault.status == 429:
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(fault.retry_after or 1)})
            if fault.status >= 500:
                return web.Response(status=fault.status, text="upstream trouble")
            call.status = 400  # ok: false
            return web.json_response({"ok": False, "error": fault.error})
        trouble = self.chaos.pick(method) if self.chaos is not None else ""
        if trouble:
            call.chaos = trouble
            if trouble == "429":
                call.status = 429
                return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                         headers={"Retry-After": str(self.chaos.retry_after)})
            if trouble == "500":
                call.status = 500
                return web.Response(status=500, text="upstream trouble")
            if trouble.endswith("-before"):
                call.status = 0  # no answer, no effect
                return await self._no_answer(request, trouble)
        response = self._answer(method, params, call)
        if trouble.endswith("-after"):  # it happened, but the caller never hears so
            return await self._no_answer(request, trouble)
        if self.chaos is not None and (request.transport is None
                                       or request.transport.is_closing()):
            call.chaos = "late"  # the caller gave up (its own timeout) before the answer
        return response

    async def _no_answer(self, request: web.Request, trouble: str) -> web.Response:
        if trouble.startswith("timeout"):
            await asyncio.sleep(self.chaos.hang if self.chaos is not None else 1.0)
        else:
            request.transport.abort()
        return web.Response(status=504, text="too late")

    def _answer(self, method: str, params: dict, call: Call) -> web.Response:
        if not params["_auth"].startswith("Bearer xoxb-"):
            call.status = 400
            return web.json_response({"ok": False, "error": "not_authed"})
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            call.status = 400
            return web.json_response({"ok": False, "error": "unknown_method"})
        call.result = handler(params)
        if not call.result.get("ok"):
            call.status = 400
        elif method == "chat.postMessage":
            posted = {"type": "message", "user": BOT_USER, "ts": call.result["ts"],
                      "text": params.get("text", "")}
            if params.get("metadata"):
                posted["metadata"] = params["metadata"]
            self.messages.setdefault(params.get("channel", ""), []).append(posted)
        return web.json_response(call.result)

    def _auth_test(self, params: dict) -> dict:
        return {"ok": True, "url": "https://nordlys.slack.com/", "team": "Nordlys",
                "user": "mentor", "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0BOT",
                "is_enterprise_install": False}

    def _user(self, user: str) -> dict:
        return {"id": user, "team_id": TEAM, "name": user.lower(), "is_bot": False,
                "profile": {"email": self.users[user], "real_name": user}}

    def _users_info(self, params: dict) -> dict:
        user = params.get("user", "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        found = self._user(user)
        if str(params.get("include_locale", "")).lower() in ("1", "true") and user in self.locales:
            found["locale"] = self.locales[user]
        return {"ok": True, "user": found}

    def _users_lookupByEmail(self, params: dict) -> dict:
        for user, email in self.users.items():
            if email == params.get("email"):
                return {"ok": True, "user": self._user(user)}
        return {"ok": False, "error": "users_not_found"}

    def _conversations_open(self, params: dict) -> dict:
        user = params.get("users", "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": dm_of(user)}}

    def _next_ts(self) -> str:
        """Unique and rising, from the clock's seconds (the machine's, without a clock)."""
        seconds = self.clock.now().timestamp() if self.clock is not None else time.time()
        self._last_ts = max(self._last_ts + 1, round(seconds * 1_000_000))
        return f"{self._last_ts // 1_000_000}.{self._last_ts % 1_000_000:06d}"

    def _chat_postMessage(self, params: dict) -> dict:
        ts = self._next_ts()
        message = {"text": params.get("text", ""), "blocks": params.get("blocks", []),
                   "ts": ts, "user": BOT_USER}
        if params.get("metadata"):
            message["metadata"] = params["metadata"]
        return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": message}

    def _conversations_history(self, params: dict) -> dict:
        """The channel's messages, newest first, from `oldest` on; metadata only when asked
        (include_all_metadata), as Slack does. One page of `limit`, with a cursor for more."""
        channel = params.get("channel", "")
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        start = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata")).lower() in ("true", "1")
        posted = [m for m in self.messages.get(channel, []) if float(m["ts"]) >= oldest]
        posted.sort(key=lambda m: float(m["ts"]), reverse=True)
        page = [m if with_metadata else {k: v for k, v in m.items() if k != "metadata"}
                for m in posted[start:start + limit]]
        more = start + limit < len(posted)
        return {"ok": True, "messages": page, "has_more": more,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""}}

    def _chat_postEphemeral(self, params: dict) -> dict:
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, params: dict) -> dict:
        return {"ok": True, "channel": params.get("channel"), "ts": params.get("ts"),
                "text": params.get("text", "")}

    def _views_open(self, params: dict) -> dict:
        return {"ok": True, "view": {**params.get("view", {}), "id": f"V{next(self._ts):05d}"}}

    def _views_publish(self, params: dict) -> dict:
        return {"ok": True, "view": {**params.get("view", {}), "id": "VHOME"}}

    def _files_getUploadURLExternal(self, params: dict) -> dict:
        file_id = f"F{next(self._files):05d}"
        return {"ok": True, "file_id": file_id,
                "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}"}

    def _files_completeUploadExternal(self, params: dict) -> dict:
        files = params.get("files") or []
        missing = [f["id"] for f in files if f["id"] not in self.uploads]
        if missing:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title", "")} for f in files]}

    async def _upload(self, request: web.Request) -> web.Response:
        file_id = request.match_info["file_id"]
        self.uploads[file_id] = await request.read()
        self.calls.append(Call("upload", {"file_id": file_id}, time.monotonic()))
        return web.Response(text=f"OK - {len(self.uploads[file_id])}", content_type="text/plain")

    async def _respond(self, request: web.Request) -> web.Response:
        params = await request.json()
        params["_key"] = request.match_info["key"]
        self.calls.append(Call("response_url", params, time.monotonic()))
        return web.Response(text="ok", content_type="text/plain")


# -- Slack's other side: signed requests to the app, as Slack sends them ---------------------------

SECRET = "5f2b0a1c9e8d7f6a5b4c3d2e1f0a9b8c"
TOKEN = "xoxb-1111-2222-test"
APP_ID = "A0MENTOR"
ID = {email: user for user, email in USERS.items()}


def signed(body: str, *, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict, event_id: str | None = None, team: str = TEAM) -> str:
    """An Events API request as Slack sends it, from the workspace `team`."""
    return json.dumps({
        "token": "legacy", "team_id": team, "api_app_id": APP_ID, "event": event,
        "type": "event_callback", "event_id": event_id or f"Ev{uuid.uuid4().hex[:10]}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}]})


def text_of(message: dict) -> str:
    """Every mrkdwn text of a posted message's blocks, in order (what the person reads)."""
    parts = []
    for block in message.get("blocks") or []:
        if block.get("type") == "section":
            if "text" in block:
                parts.append(block["text"]["text"])
            parts += [f["text"] for f in block.get("fields", [])]
        elif block.get("type") == "context":
            parts += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(parts)


def buttons_of(message: dict) -> list[dict]:
    return [element for block in message.get("blocks") or [] if block.get("type") == "actions"
            for element in block["elements"]]


class Workspace:
    """The bot's real aiohttp app on 127.0.0.1, the fake Web API, and Slack's requests to it."""

    def __init__(self, services, fake: FakeSlack, server: TestServer, chat) -> None:
        self.services, self.fake, self.server, self.chat = services, fake, server, chat
        self.session = aiohttp.ClientSession()
        self._n = itertools.count(1)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/slack/events"))

    async def close(self) -> None:
        await self.settle()
        await self.session.close()

    async def settle(self) -> None:
        """Wait for the work the app started after its acks."""
        await self.chat.idle()

    async def send(self, body: str, content_type: str, headers: dict | None = None,
                   sign: bool = True) -> tuple[int, str, float]:
        """POST to /slack/events; (status, body, seconds until the response arrived)."""
        all_headers = {"Content-Type": content_type, **(signed(body) if sign else {}),
                       **(headers or {})}
        started = time.monotonic()
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as response:
            text = await response.text()
            return response.status, text, time.monotonic() - started

    # -- what people do ---------------------------------------------------------------------------

    async def command(self, user: str, text: str, channel: str = "C0GENERAL") -> str:
        """`/mentor <text>`; returns the key of its response_url (see fake.responses)."""
        key = f"cmd{next(self._n)}"
        body = urllib.parse.urlencode({
            "token": "legacy", "team_id": TEAM, "team_domain": "nordlys", "channel_id": channel,
            "channel_name": "general" if channel.startswith("C") else "directmessage",
            "user_id": user, "user_name": user.lower(), "command": "/mentor", "text": text,
            "api_app_id": APP_ID, "response_url": self.fake.response_url(key),
            "trigger_id": f"{next(self._n)}.{uuid.uuid4().hex}"})
        status, _, _ = await self.send(body, "application/x-www-form-urlencoded")
        assert status == 200
        return key

    def event_body(self, event: dict, event_id: str | None = None) -> str:
        return event_body(event, event_id)

    async def dm(self, user: str, text: str, event_id: str | None = None,
                 headers: dict | None = None) -> int:
        event = {"type": "message", "channel": dm_of(user), "channel_type": "im", "user": user,
                 "text": text, "ts": f"{time.time():.6f}", "client_msg_id": str(uuid.uuid4())}
        body = self.event_body(event, event_id)
        status, _, _ = await self.send(body, "application/json", headers)
        return status

    async def open_home(self, user: str) -> int:
        event = {"type": "app_home_opened", "user": user, "channel": dm_of(user), "tab": "home",
                 "event_ts": f"{time.time():.6f}"}
        status, _, _ = await self.send(self.event_body(event), "application/json")
        return status

    async def press(self, user: str, message: dict, label: str, *, channel: str = "",
                    ephemeral: bool = False) -> tuple[int, str]:
        """Press the button labelled `label` on a message as Slack rendered it."""
        block, element = next((b, e) for b in message["blocks"] if b.get("type") == "actions"
                              for e in b["elements"] if e["text"]["text"] == label)
        channel = channel or message.get("channel", "")
        ts = message.get("ts", "")
        key = f"act{next(self._n)}"
        payload = {
            "type": "block_actions", "api_app_id": APP_ID, "token": "legacy",
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "team": {"id": TEAM, "domain": "nordlys"},
            "container": {"type": "message", "message_ts": ts, "channel_id": channel,
                          "is_ephemeral": ephemeral},
            "trigger_id": f"{next(self._n)}.{uuid.uuid4().hex}",
            "channel": {"id": channel, "name": "directmessage"},
            "response_url": self.fake.response_url(key),
            "actions": [{"type": "button", "action_id": element["action_id"],
                         "block_id": block["block_id"], "text": element["text"],
                         "value": element.get("value"), "action_ts": f"{time.time():.6f}"}],
        }
        if payload["actions"][0]["value"] is None:
            del payload["actions"][0]["value"]
        if not ephemeral:
            payload["message"] = {"type": "message", "user": BOT_USER, "ts": ts,
                                  "text": message.get("text", ""), "blocks": message["blocks"]}
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
        status, _, _ = await self.send(body, "application/x-www-form-urlencoded")
        return status, key

    async def submit(self, user: str, view: dict, values: dict[str, str] | None = None
                     ) -> tuple[int, dict]:
        """Submit a modal as opened by views.open, with `values` over the initial ones."""
        values = values or {}
        state: dict = {}
        for block in view["blocks"]:
            if block.get("type") != "input":
                continue
            element = block["element"]
            name, kind = element["action_id"], element["type"]
            if kind == "datepicker":
                entry = {"selected_date": values.get(name, element.get("initial_date"))}
            elif kind == "timepicker":
                entry = {"selected_time": values.get(name, element.get("initial_time"))}
            else:
                entry = {"value": values.get(name, element.get("initial_value"))}
            state[block["block_id"]] = {name: {"type": kind, **entry}}
        payload = {
            "type": "view_submission", "api_app_id": APP_ID, "token": "legacy",
            "team": {"id": TEAM, "domain": "nordlys"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM},
            "trigger_id": f"{next(self._n)}.{uuid.uuid4().hex}",
            "view": {**view, "id": view.get("id", "V1"), "team_id": TEAM,
                     "state": {"values": state}, "hash": uuid.uuid4().hex[:12]},
        }
        body = "payload=" + urllib.parse.quote(json.dumps(payload))
        status, text, _ = await self.send(body, "application/x-www-form-urlencoded")
        return status, json.loads(text) if text.strip().startswith("{") else {}


@contextlib.asynccontextmanager
async def workspace(database, clock, env: dict[str, str] | None = None,
                    channel_interval: float = 0.0):
    """Everything as `app.py serve` builds it, on 127.0.0.1 port 0, talking to a FakeSlack.

    Pacing is injected fast (6000 posts a minute, no per-channel gap) unless a test asks.
    """
    from app import build
    from bot.routing import RoutingMessenger
    from bot.slack.app import SLACK
    from bot.web import make_app

    fake = await FakeSlack(clock=clock).start()
    router = RoutingMessenger({}, None)
    services = build(clock=clock, messenger=router, db=database, worker="test")
    app, banner = make_app(services, router, {
        "SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url,
        "SLACK_POSTS_PER_MINUTE": "6000", **(env or {})})
    app[SLACK].messenger.pacer.channel_interval = channel_interval
    # A form submit waits for the engine up to ack_budget (2 s, under Slack's 3) to show a
    # refusal on the form; a loaded test machine must not turn that into a DM.
    app[SLACK].ack_budget = 60
    assert any(line.startswith("Slack: live") for line in banner), banner
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    space = Workspace(services, fake, server, app[SLACK])
    try:
        yield space
    finally:
        await space.close()
        await server.close()
        await fake.stop()
