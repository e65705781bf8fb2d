"""One contract for every adapter: the same scenario on the console, Slack and Teams gives the
same conversation. Each platform renders its own way; what the person reads is the same."""
from __future__ import annotations

import html
import re
import shutil

import pytest

from bot.console.inbound import to_event
from bot.console.render import render
from storage.db import Database
from tests.fake_slack_api import ID, dm_of, text_of, workspace
from tests.fake_teams_connector import refuse_internet, serve_bot
from tests.helpers import import_programme

JONAS, GRACE = "jonas.berg@example.org", "grace.okafor@example.org"
SCENARIO = [
    (JONAS, "help"),
    (JONAS, "next monday 16:00"),  # 09:00 for Grace in Chicago
    (JONAS, "agenda 1) feedback from the workshop 2) <!channel> *how* to say no"),
    (JONAS, "log yesterday 14:00 45m talked about the promotion case"),
    (JONAS, "status"),
    (JONAS, "reflect"),
    (JONAS, "That I avoid conflict more than I thought"),
    (JONAS, "lgo today"),
    (GRACE, "status"),
]


# Relayed messages wait for Grace's working day: 10:00 in Copenhagen is 03:00 in Chicago.
GRACE_WAKES = 6


def normal(text: str) -> str:
    """What a person reads, whatever the markup: no emphasis marks, escapes or entities."""
    text = html.unescape(text).replace("\u200b", "")
    text = re.sub(r"\\(.)", r"\1", text)
    text = re.sub(r"[*_`]", "", text)
    return " ".join(text.split())


@pytest.fixture
def databases(tmp_path, sqlite_template, clock):
    made = []

    def make(name: str) -> Database:
        path = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, path)
        db = Database(f"sqlite:///{path}")
        import_programme(db, now=clock.now())
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()


async def console_transcript(db, clock) -> tuple[list[str], str]:
    from app import build
    from bot.console.messenger import ConsoleMessenger
    from storage import outbox
    from storage.people import person_by_email

    services = build(clock=clock, messenger=ConsoleMessenger(), db=db)
    said = []
    for email, line in SCENARIO:
        reply = services.engine.handle(to_event(line, email, clock.now(), []))
        said += [normal(render(m).split("\n  [#")[0]) for m in reply.messages]
    clock.advance(hours=GRACE_WAKES)
    await services.pump()
    with db.unit() as session:
        grace = person_by_email(session, GRACE)
        agenda = [r.text for r in outbox.unread_for(session, grace.id, "console")
                  if r.kind == "agenda"]
    from tests.fakes import plain
    return said, normal(plain(agenda[0]))


async def slack_transcript(db, clock) -> tuple[list[str], str]:
    said = []
    async with workspace(db, clock) as slack:
        for email, line in SCENARIO:
            channel = dm_of(ID[email])
            before = len(slack.fake.posts_in(channel))
            await slack.dm(ID[email], line)
            await slack.settle()
            said += [normal(text_of(p)) for p in slack.fake.posts_in(channel)[before:]]
        before = len(slack.fake.posts_in(dm_of(ID[GRACE])))
        clock.advance(hours=GRACE_WAKES)
        await slack.services.pump()
        agenda = [normal(text_of(p)) for p in slack.fake.posts_in(dm_of(ID[GRACE]))[before:]]
    return said, next(a for a in agenda if "agenda" in a)


async def teams_transcript(db, clock) -> tuple[list[str], str]:
    bot = await serve_bot(db, clock)
    try:
        said = []
        for email, line in SCENARIO:
            said += [normal(c.shown) for c in await bot.teams.say(email, line)]
        conversation = bot.teams.user(GRACE).conversation_id
        before = len(bot.connector.delivered(conversation))
        clock.advance(hours=GRACE_WAKES)
        await bot.services.pump()
        agenda = [normal(c.shown) for c in bot.connector.delivered(conversation)[before:]]
    finally:
        await bot.close()
    return said, next(a for a in agenda if "agenda" in a)


async def test_console_slack_and_teams_see_the_same_conversation(databases, clock, monkeypatch):
    attempts = refuse_internet(monkeypatch)
    clock.advance(days=2, hours=2)  # Thursday 3 September, 10:00 in Copenhagen
    start = clock.now()
    transcripts = {}
    for name, run in (("console", console_transcript), ("slack", slack_transcript),
                      ("teams", teams_transcript)):
        clock.set(start)
        transcripts[name] = await run(databases(name), clock)
    console, slack, teams = (transcripts[n] for n in ("console", "slack", "teams"))
    assert len(console[0]) == len(SCENARIO)
    assert console[0] == slack[0] == teams[0]
    # Slack and Teams merge the booking and the agenda into one message; the console inbox
    # lists each prompt on its own. The agenda reads the same everywhere.
    assert slack[1] == teams[1] and console[1] in slack[1]
    assert "<!channel> how to say no" in console[1]  # shown, never obeyed
    assert attempts == []
