"""`serve`: one aiohttp application for every platform on one port, plus the scheduler tick.

The chat platforms are the ones `app.py` lists (`platforms()`), each known here only through
the contract of bot/platform.py: served when `configured(env)`, with a line for the start-up
banner either way; a ValueError from `attach` is a configuration the server refuses to start
with. Every inbound request is stored in the inbox before it is acknowledged; this process's
inbox worker drains it.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from collections.abc import Callable
from datetime import timedelta

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.console.messenger import ConsoleMessenger
from bot.files import add_file_routes, public_url
from bot.inbox.turns import TurnProcesses
from bot.inbox.worker import CLAIM_TIMEOUT, InboxWorker
from bot.logs import AccessLog
from bot.platform import Platform
from bot.settings import Settings
from bot.report.admin import add_admin_routes
from bot.routing import RoutingMessenger
from bot.webconsole.routes import add_console_routes
from storage.db import Unavailable
from storage.outbox import ping

log = logging.getLogger(__name__)
HEALTH_SECONDS = 0.8
BEAT_WAITS_AT_MOST = 30.0  # seconds a beat waits for a burst of chat to pass


INBOX = web.AppKey("inbox", InboxWorker)


def make_inbox(services, env: dict[str, str]) -> InboxWorker:
    try:
        seconds = float(env.get("INBOX_CLAIM_SECONDS") or CLAIM_TIMEOUT.total_seconds())
    except ValueError:
        raise ValueError(f"INBOX_CLAIM_SECONDS must be a number of seconds, "
                         f"not {env['INBOX_CLAIM_SECONDS']!r}") from None
    return InboxWorker(services.db, services.engine, services.wall.now, services.worker,
                       claim_timeout=timedelta(seconds=seconds))


def make_app(services, router: RoutingMessenger, env: dict[str, str],
             platforms: list[Platform] | None = None) -> tuple[web.Application, list[str]]:
    app = web.Application(client_max_size=1024 * 1024)
    app["services"] = services
    inbox = app[INBOX] = make_inbox(services, env)

    async def start_inbox(_app: web.Application) -> None:
        inbox.start()

    async def stop_inbox(_app: web.Application) -> None:
        await inbox.stop()

    app.on_startup.append(start_inbox)
    app.on_shutdown.append(stop_inbox)

    pinging: list[asyncio.Future] = []  # at most one ping in flight, however often it is asked

    async def health(request: web.Request) -> web.Response:
        """200 or 503 within a second: a database that does not answer is an outage too. The
        inbox's counts come along: parked requests are the operator's to look at."""
        if not pinging or pinging[0].done():
            pinging[:] = [asyncio.ensure_future(asyncio.to_thread(_ping, services.db, inbox))]
            # A ping that fails after its request gave up is read here, not reported later by
            # asyncio as "never retrieved" (in the middle of whatever runs then).
            pinging[0].add_done_callback(lambda ping: ping.cancelled() or ping.exception())
        try:
            detail = await asyncio.wait_for(asyncio.shield(pinging[0]), HEALTH_SECONDS)
        except (*Unavailable, TimeoutError):
            return web.json_response({"status": "database unavailable"}, status=503)
        return web.json_response({"status": "ok", "inbox": detail})

    app.router.add_get("/healthz", health)
    banner = []
    for platform in _registered() if platforms is None else platforms:
        if platform.configured(env):
            banner.append(platform.attach(app, services, router, env, inbox))
        else:
            banner.append(platform.not_configured_line(env))
    banner.append(add_admin_routes(app, services, env))
    banner.append(add_file_routes(app, services, env))
    banner.append(add_console_routes(app, services, env))
    return app, banner


def _registered() -> list[Platform]:
    """The platforms the composition root lists (tests build apps without naming them)."""
    from app import platforms

    return platforms()


def _ping(db, inbox: InboxWorker) -> dict:
    with db.unit() as session:
        ping(session)
    return inbox.health()


def inbox_line(inbox: InboxWorker) -> str:
    """The banner's word on the inbox: parked requests are named, so the operator looks."""
    try:
        parked = inbox.health()["parked"]
    except Unavailable:
        return "Inbox: database unavailable at start-up"
    if parked:
        return (f"Inbox: {parked} request(s) PARKED after repeated failures; see /healthz "
                f"(inbox.parked_reasons) and the log")
    return "Inbox: every request is stored before it is acknowledged; none parked"


async def _freeze_the_heap(_app: web.Application) -> None:
    """What start-up made (modules, templates, the platforms' clients: most of the heap) lives
    as long as the process: the collector stops scanning it. Before, a full collection held
    every request for up to 139 ms (nine of them, 907 ms in all, in a 300/s burst of 3,000)."""
    gc.collect()
    gc.freeze()


def console_inbox_wanted(env: dict[str, str], platforms: list[Platform]) -> bool:
    """Demo mode: with no chat platform that reaches people, prompts land in the console inbox."""
    if env.get("CONSOLE_INBOX") in ("0", "1"):
        return env["CONSOLE_INBOX"] == "1"
    return not any(platform.reaches_people(env) for platform in platforms)


def serve(args, build_services: Callable, platforms: list[Platform] | None = None,
          settings: Settings | None = None, turn_engine: Callable | None = None) -> int:
    """`turn_engine`: builds the engine of a turn process (picklable; bot/inbox/turns.py)."""
    platforms = _registered() if platforms is None else platforms
    settings = settings or Settings.from_environ()
    env = settings.env_for_serve(args.host)  # --host wins: /admin's cookie, loopback checks
    env["PUBLIC_URL"] = public_url(env, args.host, args.port)
    console = ConsoleMessenger() if console_inbox_wanted(env, platforms) else None
    router = RoutingMessenger({}, console)
    services = build_services(router)
    try:
        app, banner = make_app(services, router, env, platforms)
    except ValueError as error:
        print(f"Not starting: {error}", file=sys.stderr)
        return 2
    scheduler = AsyncIOScheduler()

    inbox = app[INBOX]
    processes = settings.turn_processes(os.cpu_count() or 1) if turn_engine else 0
    if processes:
        turns = TurnProcesses(processes, turn_engine, services.engine, settings.log_level)
        inbox.run_turns_in(turns)

        async def start_turns(_app: web.Application) -> None:
            await turns.start()

        app.on_startup.insert(0, start_turns)  # before the inbox drains
        banner.append(f"Engine turns: in {processes} processes of their own "
                      f"(ENGINE_PROCESSES; 0 runs them in this one)")

    async def beat() -> None:
        await inbox.quiet(most=BEAT_WAITS_AT_MOST)  # chat goes first
        try:
            await services.pump()
        except Unavailable:
            log.warning("database unavailable during the tick; trying again next beat")
        except Exception:
            log.exception("the tick failed; trying again next beat")

    async def start_scheduler(_app: web.Application) -> None:
        scheduler.add_job(beat, "interval", seconds=args.tick_seconds, coalesce=True,
                          max_instances=1)
        scheduler.start()
        asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(beat()))

    async def stop_scheduler(_app: web.Application) -> None:
        scheduler.shutdown(wait=False)

    app.on_startup.append(start_scheduler)
    app.on_startup.append(_freeze_the_heap)
    app.on_cleanup.append(stop_scheduler)
    database = services.db.url.split("@")[-1] if "@" in services.db.url else services.db.url
    banner.append(inbox_line(app[INBOX]))
    print(f"Mentoring bot serving on http://{args.host}:{args.port} (database: {database})")
    for line in banner:
        print(f"  {line}")
    if isinstance(router.fallback, ConsoleMessenger):  # a platform may be the fallback instead
        print("  Console inbox: on. Chat as a participant in another terminal, for example:")
        print("    .venv/bin/python app.py console --as jonas.berg@example.org")
    print(f"  Scheduler: one tick every {args.tick_seconds:g} s. Health: /healthz. Ctrl+C stops.")
    web.run_app(app, host=args.host, port=args.port, print=None, access_log_class=AccessLog)
    return 0
