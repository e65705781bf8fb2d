"""Composition root and command line: builds every part once and wires them together.

    python app.py run                      # migrate, load the sample if empty, serve
    python app.py serve [--port 3978]      # HTTP endpoints + the scheduler tick
    python app.py console --as EMAIL [--now ISO]
    python app.py import PROGRAMME.toml [--now ISO]
    python app.py simulate [--pairs N] [--json] [--keep-db PATH]
    python app.py report [--programme SLUG] [--html FILE] [--csv FILE] [--lang en|da]
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from dataclasses import dataclass
from functools import partial
from datetime import datetime, timezone
from pathlib import Path

from bot.files import public_url
from bot.logs import configure as configure_logging
from bot.settings import DEFAULT_BOT_EMAIL, Settings, SettingsError
from conversations.clock import Clock, FakeClock
from conversations.engine import Engine
from conversations.outbox import Dispatcher, Messenger
from conversations.texts import Texts
from conversations.tick import Ticker
from storage.db import Database
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parent
SAMPLE = ROOT / "examples" / "programme.toml"
log = logging.getLogger("mentor")


class SystemClock:
    """The real clock, used only here at the composition root."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)


@dataclass
class Services:
    db: Database
    clock: Clock
    texts: Texts
    engine: Engine
    ticker: Ticker
    dispatcher: Dispatcher
    wall: Clock  # the machine's clock: the inbox's claims age by it, whatever `clock` says
    worker: str  # this process's name in claims

    async def pump(self) -> None:
        """One beat: propose what is due, then deliver it."""
        await asyncio.to_thread(self.ticker.tick)
        await self.dispatcher.run_once()


def build(*, clock: Clock, messenger: Messenger, db: Database | None = None,
          worker: str = "main", settings: Settings | None = None) -> Services:
    settings = settings or Settings()
    db = db or Database(settings.database_url)
    upgrade(db.engine)
    texts = Texts()
    organizer = settings.bot_email or DEFAULT_BOT_EMAIL
    return Services(db=db, clock=clock, texts=texts,
                    engine=_engine(settings, db, clock, texts),
                    ticker=Ticker(db, clock),
                    dispatcher=Dispatcher(db, clock, texts, messenger, worker=worker,
                                          organizer=organizer),
                    wall=SystemClock(), worker=worker)


def _engine(settings: Settings, db: Database, clock: Clock, texts: Texts) -> Engine:
    return Engine(db, clock, texts, organizer=settings.bot_email or DEFAULT_BOT_EMAIL,
                  public_url=public_url(settings.env, settings.host, settings.port))


def turn_engine(environ: dict[str, str]) -> Engine:
    """The engine of a turn process (bot/inbox/turns.py): built from the same variables as
    the `serve` that started it, so it has the same database, clock and texts."""
    settings = Settings.from_environ(environ)
    return _engine(settings, Database(settings.database_url), _serve_clock(settings), Texts())


def _serve_clock(settings: Settings) -> Clock:
    return FileClock(settings.clock_file) if settings.clock_file else SystemClock()


class FileClock:
    """Rehearsal time shared by several processes: the moment written in a file.

    `serve` uses it when CLOCK_FILE is set, so replicas (and the test that drives them) move
    through simulated weeks together. Never set it in production.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def now(self) -> datetime:
        try:
            moment = datetime.fromisoformat(self.path.read_text().strip())
        except ValueError:  # read while a writer that does not replace the file was writing it
            moment = datetime.fromisoformat(self.path.read_text().strip())
        return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_now(value: str | None) -> Clock:
    if not value:
        return SystemClock()
    moment = datetime.fromisoformat(value)
    return FakeClock(moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc))


def cmd_import(args) -> int:
    from bot.cli.importer import import_file

    db = Database(args.settings.database_url)
    upgrade(db.engine)
    # The engine's clock, not the machine's: a rehearsal (`--now`) imports at its own moment,
    # so pairs start when the rehearsed programme does.
    return import_file(db, Path(args.file), parse_now(args.now).now(), Texts(), sys.stdout,
                       roster=Path(args.roster) if args.roster else None)


def cmd_console(args) -> int:
    from bot.console.app import ConsoleSession
    from bot.console.messenger import ConsoleMessenger

    services = build(clock=parse_now(args.now), messenger=ConsoleMessenger(), worker="console",
                     settings=args.settings)
    session = ConsoleSession(engine=services.engine, db=services.db, pump=services.pump,
                             email=args.as_email)
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Talking to the mentoring bot as {args.as_email}. Type `help`, or :quit to leave.")
    asyncio.run(session.run(_lines(interactive), interactive=interactive))
    return 0


def _lines(interactive: bool):
    while True:
        try:
            line = input("you> ") if interactive else sys.stdin.readline()
        except EOFError:
            return
        if not interactive and line == "":
            return
        yield line


def cmd_simulate(args) -> int:
    from bot.simulation.run import simulate

    return simulate(pairs=args.pairs, as_json=args.json, programme_file=Path(args.file),
                    out=sys.stdout, keep_db=Path(args.keep_db) if args.keep_db else None,
                    seed=args.seed, months=args.months)


def cmd_report(args) -> int:
    from bot.report.cli import run

    db = Database(args.settings.database_url)
    upgrade(db.engine)
    try:
        return run(db, parse_now(args.now).now(), Texts(), sys.stdout, slug=args.programme,
                   html=Path(args.html) if args.html else None,
                   csv=Path(args.csv) if args.csv else None, lang=args.lang)
    finally:
        db.dispose()


def cmd_announce(args) -> int:
    from bot.cli.announce import announce
    from bot.console.messenger import ConsoleMessenger

    services = build(clock=parse_now(args.now), messenger=ConsoleMessenger(), worker="cli",
                     settings=args.settings)
    return announce(services.engine, manager=args.as_email, audience=args.audience,
                    text=args.text, event=args.event, send_at=args.send_at, yes=args.yes,
                    out=sys.stdout)


def platforms() -> list:
    """The chat platforms `serve` offers (bot/platform.py); a new one is one line here."""
    from bot.slack.app import SLACK_PLATFORM
    from bot.teams.app import TEAMS_PLATFORM

    return [SLACK_PLATFORM, TEAMS_PLATFORM]


def cmd_serve(args) -> int:
    from bot.web import serve

    settings = args.settings
    clock = _serve_clock(settings)
    return serve(args, lambda messenger: build(clock=clock, messenger=messenger,
                                               worker=f"{os.uname().nodename}:{os.getpid()}",
                                               settings=settings),
                 platforms(), settings, turn_engine=partial(turn_engine, dict(settings.env)))


def cmd_run(args) -> int:
    db = Database(args.settings.database_url)
    upgrade(db.engine)
    from bot.cli.importer import import_file, has_programmes

    if not has_programmes(db) and SAMPLE.exists():
        print("Empty database: loading the sample programme from examples/programme.toml")
        import_file(db, SAMPLE, SystemClock().now(), Texts(), sys.stdout)
    db.dispose()
    return cmd_serve(args)


def cmd_migrate(args) -> int:
    upgrade(Database(args.settings.database_url).engine)
    print("Database schema is up to date.")
    return 0


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    if settings is None:
        try:
            settings = Settings.from_environ()
        except SettingsError as error:
            print(f"Not starting: {error}", file=sys.stderr)
            return 2
    parser = argparse.ArgumentParser(prog="app.py", description="Mentoring companion bot")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "serve"):
        p = sub.add_parser(name, help="serve Slack/Teams endpoints and run the scheduler")
        p.add_argument("--port", type=int, default=settings.port)
        p.add_argument("--host", default=settings.host)
        p.add_argument("--tick-seconds", type=float, default=settings.tick_seconds)
        p.set_defaults(func=cmd_run if name == "run" else cmd_serve)
    p = sub.add_parser("console", help="chat with the bot in the terminal as a participant")
    p.add_argument("--as", dest="as_email", required=True, metavar="EMAIL")
    p.add_argument("--now", help="start a rehearsal clock at this ISO datetime")
    p.set_defaults(func=cmd_console)
    p = sub.add_parser("import", help="import or update a programme from its TOML file")
    p.add_argument("file")
    p.add_argument("--now", help="import as of this ISO datetime (a rehearsal clock)")
    p.add_argument("--roster", help="the roster CSV, instead of the programme file's `roster` "
                                    "(which must lie in the programme file's folder)")
    p.set_defaults(func=cmd_import)
    p = sub.add_parser("simulate", help="run a programme start to end on a fake clock")
    p.add_argument("--pairs", type=int, default=0, help="simulate N generated pairs instead")
    p.add_argument("--json", action="store_true", help="one JSON object per delivered prompt")
    p.add_argument("--file", default=str(SAMPLE))
    p.add_argument("--keep-db", metavar="PATH", help="keep the simulation's SQLite database here")
    p.add_argument("--seed", type=int, help="generated pairs: everyone in a random time zone")
    p.add_argument("--months", type=int, help="generated pairs: a programme this many months long")
    p.set_defaults(func=cmd_simulate)
    p = sub.add_parser("report", help="programme health: a summary, or --html / --csv files")
    p.add_argument("--programme", metavar="SLUG", help="which programme (needed if several)")
    p.add_argument("--html", metavar="FILE", help="write the full report as one HTML page")
    p.add_argument("--csv", metavar="FILE", help="write the same figures as CSV")
    p.add_argument("--lang", choices=("en", "da"), help="default: the programme's language")
    p.add_argument("--now", help="report as of this ISO datetime (default: now)")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("announce", help="announce a touchpoint to an audience (with a preview)")
    p.add_argument("--as", dest="as_email", required=True, metavar="MANAGER_EMAIL")
    p.add_argument("--audience", required=True,
                   help="everyone, mentors, mentees, 'pair <id>' or 'quiet <weeks>'")
    p.add_argument("--event", help="when the event is, e.g. 'monday 14:00' or '2026-10-05 14:00'")
    p.add_argument("--send-at", help="send later, from this moment (working hours apply)")
    p.add_argument("--text", required=True,
                   help="the text; may use {{ first_name }}, {{ programme }}, {{ partner }}")
    p.add_argument("--yes", action="store_true", help="send without asking")
    p.add_argument("--now", help="a rehearsal clock (ISO datetime)")
    p.set_defaults(func=cmd_announce)
    p = sub.add_parser("migrate", help="bring the database schema up to date")
    p.set_defaults(func=cmd_migrate)
    args = parser.parse_args(argv)
    args.settings = settings
    return args.func(args)


if __name__ == "__main__":
    try:
        SETTINGS = Settings.from_environ()  # the one reading of the environment
    except SettingsError as error:
        print(f"Not starting: {error}", file=sys.stderr)
        sys.exit(2)
    configure_logging(SETTINGS.log_level)  # the process's, so not in main()
    sys.exit(main(settings=SETTINGS))
