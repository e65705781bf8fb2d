"""Slack adapter, wiring: a Bolt app on POST /slack/events (and Socket Mode), plus the messenger.

Events, slash commands and interactivity share the one URL. Every request passes the door in
bot/slack/verify.py first (signature on the raw bytes, then shape, then workspace); Bolt and the
listeners see only what passed. The listeners store the request in the inbox before Bolt
answers 200 (`process_before_response`), and the inbox worker answers it (bot/inbox/).
`SLACK_PLATFORM` is this adapter's side of bot/platform.py.
"""
from __future__ import annotations

import logging

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.authorization.async_single_team_authorization import (
    AsyncSingleTeamAuthorization)
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.platform import Platform
from bot.slack import verify
from bot.slack.inbound import PLATFORM
from bot.slack.listeners import COMMAND, SlackChat
from bot.slack.messenger import SlackMessenger
from bot.slack.pacing import ConnectionRetryNoPosts, PacedRateLimitRetry, Pacer, share

log = logging.getLogger(__name__)
PATH = "/slack/events"
DEFAULT_API_URL = "https://slack.com/api/"
DEFAULT_POSTS_PER_MINUTE = 200
SLACK = web.AppKey("slack", SlackChat)  # the listeners, so tests can wait for their work


def configured(env: dict[str, str]) -> bool:
    return bool(env.get("SLACK_BOT_TOKEN") and env.get("SLACK_SIGNING_SECRET"))


def not_configured_line(env: dict[str, str]) -> str:
    return ("Slack: off (set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET to serve it; "
            "add SLACK_APP_TOKEN for Socket Mode)")


def reaches_people(env: dict[str, str]) -> bool:
    return bool(env.get("SLACK_BOT_TOKEN"))


def api_url(env: dict[str, str]) -> str:
    url = env.get("SLACK_API_URL") or DEFAULT_API_URL
    return url if url.endswith("/") else url + "/"  # the SDK joins method names onto it


def make_pacer(env: dict[str, str]) -> Pacer:
    try:
        per_minute = float(env.get("SLACK_POSTS_PER_MINUTE") or DEFAULT_POSTS_PER_MINUTE)
    except ValueError:
        per_minute = DEFAULT_POSTS_PER_MINUTE
    try:  # several replicas: each paces at its share of the workspace budget
        replicas = int(env.get("REPLICAS") or 1)
    except ValueError:
        replicas = 1
    return Pacer(per_minute=share(per_minute, replicas))


def quiet_loggers() -> None:
    """What Bolt and the SDK log is withheld by bot/logs.py; this drops one needless warning."""
    bolt_logger = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _TokenFromEnvironment) for f in bolt_logger.filters):
        bolt_logger.addFilter(_TokenFromEnvironment())


class _TokenFromEnvironment(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that our client's token wins: it is the same."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def attach(app: web.Application, services, router, env: dict[str, str], inbox) -> str:
    quiet_loggers()
    pacer = make_pacer(env)
    client = AsyncWebClient(
        token=env["SLACK_BOT_TOKEN"], base_url=api_url(env), timeout=15,
        retry_handlers=[ConnectionRetryNoPosts(), PacedRateLimitRetry(pacer)])
    bolt = AsyncApp(signing_secret=env["SLACK_SIGNING_SECRET"],
                    client=client, process_before_response=True,
                    request_verification_enabled=False)  # done first, in `events`
    bolt.use(verify.same_workspace)
    messenger = SlackMessenger(client, pacer)
    app.on_cleanup.append(lambda _app: messenger.close())  # its kept-alive HTTP session
    chat = SlackChat(services, client, messenger, inbox)
    chat.register(bolt)
    inbox.processors[PLATFORM] = chat
    verifier = SignatureVerifier(env["SLACK_SIGNING_SECRET"])
    installation = verify.Installation(client, next(  # Bolt's own auth.test cache, shared
        (m for m in bolt._async_middleware_list if isinstance(m, AsyncSingleTeamAuthorization)),
        None))

    async def events(request: web.Request) -> web.Response:
        raw = await request.read()  # over the app's client_max_size: 413, unread
        if not verify.signed(verifier, raw, request.headers):
            return web.json_response({"error": "invalid request"}, status=401)
        text = raw.decode("utf-8")  # signed, so it is UTF-8
        body = verify.parsed(text, request.content_type)
        if body is None:
            return web.json_response({"error": "malformed request"}, status=400)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("Slack request signed and well formed: %s", verify.kind(body))
        if body.get("command") == COMMAND and (ours := await installation.ours()):
            # The chat path's hot spot: stored and acknowledged here, without Bolt's dispatch.
            if verify.foreign(body, *ours):
                return web.Response(status=403)
            refusal = await chat.store_command(body)
            return web.json_response({"text": refusal}) if refusal else web.Response()
        bolt_request = AsyncBoltRequest(body=text, query=request.query_string,
                                        headers=request.headers)
        return await to_aiohttp_response(await bolt.async_dispatch(bolt_request))

    app.router.add_post(PATH, events)
    app[SLACK] = chat

    async def close_chat(_app: web.Application) -> None:
        await chat.close()

    app.on_cleanup.append(close_chat)
    router.messengers["slack"] = messenger
    if router.fallback is None:  # people who never wrote to any bot: Slack finds them by email
        router.fallback = messenger
    line = f"Slack: live at POST {PATH} (events, /mentor and interactivity)"
    if env.get("SLACK_APP_TOKEN"):
        _socket_mode(app, bolt, env["SLACK_APP_TOKEN"])
        line += ", and over Socket Mode"
    return line


def _socket_mode(app: web.Application, bolt: AsyncApp, app_token: str) -> None:
    """Local use with no public URL: Slack pushes the same requests over a WebSocket."""
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    handlers: list[AsyncSocketModeHandler] = []

    async def start(_app: web.Application) -> None:
        handlers.append(AsyncSocketModeHandler(bolt, app_token))
        await handlers[0].connect_async()

    async def stop(_app: web.Application) -> None:
        for handler in handlers:
            await handler.close_async()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


SLACK_PLATFORM = Platform(PLATFORM, configured, not_configured_line, reaches_people, attach)
