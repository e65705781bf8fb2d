"""Database faults: PostgreSQL unreachable for 30 seconds while chat and ticks go on.

`serve` (a real process) reaches PostgreSQL through a small TCP proxy on 127.0.0.1 that the test
cuts: open connections are closed and new ones refused, so the shared server stays up for every
other test. Invariant: people get the clear "try again in a moment" reply through the real
adapters (Teams activities to /api/messages, signed Slack commands), the process does not die,
/healthz says 503 during and 200 after, and once the database is back everything due is
delivered (exactly once) and no command was half-applied.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.parse
import uuid
from collections import Counter
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy.engine import make_url
from sqlmodel import select

from storage.db import Database
from storage.outbox import CLAIM_TIMEOUT
from storage.people import person_by_email, remember_identity
from storage.tables import Agenda, Delivery, Meeting
from tests.conftest import PG_ADMIN, START
from tests.fake_slack_api import ID, SECRET, TOKEN, FakeSlack, signed, text_of
from tests.fake_teams_connector import FakeConnector, FakeTeams, teams_user
from tests.faults.conftest import roster
from tests.faults.serving import ClockFile, Serve, serve_env, settled, until
from tests.helpers import import_programme

pytestmark = [pytest.mark.faults, pytest.mark.postgres]

OUTAGE = float(os.environ.get("FAULTS_OUTAGE_SECONDS", "30"))
JONAS, ANNA = "jonas.berg@example.org", "anna.weiss@example.org"  # in Teams
SOFIE = "sofie.lund@example.org"  # in Slack
PAIRS = 100  # a second programme, in Teams, whose kick-off wave the cut interrupts
TRY_AGAIN = "try again in a moment"


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut: while cut, new connections are closed at once
    and the open ones were closed when the cut began."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.cut = False
        self.links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.severed = self.refused = 0
        self.server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> "Proxy":
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        link = (writer, up_writer)
        self.links.add(link)
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self.links.discard(link)
            for w in link:
                w.transport.abort()

    def sever(self) -> None:
        self.cut = True
        for link in list(self.links):
            self.severed += 1
            for w in link:
                w.transport.abort()

    def restore(self) -> None:
        self.cut = False

    async def close(self) -> None:
        self.sever()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        writer.transport.abort()


def slash(fake: FakeSlack, user: str, text: str) -> tuple[str, str]:
    key = f"cmd-{uuid.uuid4().hex[:8]}"
    body = urllib.parse.urlencode({
        "team_id": "T0NORDLYS", "user_id": user, "command": "/mentor", "text": text,
        "channel_id": "C0GENERAL", "response_url": fake.response_url(key),
        "trigger_id": f"{time.time()}.{uuid.uuid4().hex}"})
    return key, body


async def test_database_unreachable_for_30_seconds(fresh_postgres, tmp_path, figures):
    started = time.monotonic()
    db = Database(fresh_postgres)
    import_programme(db, now=START)
    second = roster(tmp_path / "second", PAIRS, prefix="g")
    import_programme(db, second, now=START)
    connector = await FakeConnector().start()
    slack = await FakeSlack().start()
    wave = [f"g{role}{i}@example.org" for i in range(PAIRS) for role in ("mentor", "mentee")]
    with db.unit() as session:  # they have the bot in Teams; the rest of the sample in Slack
        for email in (JONAS, ANNA, *wave):
            user = teams_user(email)
            remember_identity(session, person_by_email(session, email), platform="teams",
                              user_id=user.aad_object_id, now=START,
                              conversation_id=user.conversation_id, service_url=connector.url)
    target = make_url(PG_ADMIN)
    proxy = await Proxy(target.host or "127.0.0.1", target.port or 5432).start()
    database = make_url(fresh_postgres).database
    via_proxy = f"postgresql://{target.username}@127.0.0.1:{proxy.port}/{database}"
    clock = ClockFile(tmp_path / "clock", START)  # 08:00 in Copenhagen: nothing due yet
    env = serve_env(via_proxy, clock, TICK_SECONDS="0.5", SLACK_BOT_TOKEN=TOKEN,
                    SLACK_SIGNING_SECRET=SECRET, SLACK_API_URL=slack.api_url,
                    SLACK_POSTS_PER_MINUTE="6000")
    http = aiohttp.ClientSession()
    server = Serve(env, tmp_path / "serve.log").start()
    teams = FakeTeams("", connector, http)
    tries = Counter()
    health_during: set[int] = set()

    async def teams_says(email: str, text: str) -> list[str]:
        """The bot's replies to this activity (they follow the 200: stored, then answered)."""
        activity = teams.activity(teams.user(email), text=text)

        def replies() -> list[str]:
            return [c.shown for c in connector.calls
                    if c.method == "POST" and c.activity_id == activity["id"]]

        async with http.post(f"{server.url}/api/messages", json=activity) as response:
            assert response.status == 200, (response.status, await response.text())
        await until(replies, 30, what=f"a Teams answer to {text!r}")
        return replies()

    async def slack_says(email: str, text: str) -> list[str]:
        key, body = slash(slack, ID[email], text)
        headers = {"Content-Type": "application/x-www-form-urlencoded", **signed(body)}
        async with http.post(f"{server.url}/slack/events", data=body.encode(),
                             headers=headers) as response:
            assert response.status == 200, (response.status, await response.text())
            body = await response.text()
        if body:  # answered in the acknowledgement (plain text or JSON): it was not stored
            return [json.loads(body)["text"] if body.startswith("{") else body]
        await until(lambda: slack.responses(key), 30, what=f"a Slack answer to {text!r}")
        return [text_of(r) for r in slack.responses(key)]

    try:
        await server.ready(http)
        assert "Logged" in (await teams_says(ANNA, "log today 07:30 45m before the outage"))[0]
        clock.set(START + timedelta(hours=2))  # 10:00: the kick-off wave starts ...
        posted = len(proactive(connector))
        await until(lambda: len(proactive(connector)) >= posted + 20, 60, every=0.002,
                    what="the kick-off wave")
        proxy.sever()  # ... and the database goes away in the middle of it
        cut = time.monotonic()
        await until(lambda: server.health(http), 30, what="/healthz")  # answers at all
        n = 0
        while time.monotonic() - cut < OUTAGE:
            n += 1
            if n == 2:
                clock.set(clock.now + timedelta(days=1))  # prompts come due meanwhile
            health_during.add(await server.health(http))
            replies = await teams_says(JONAS, f"log yesterday 14:00 45m outage-note-{n}")
            assert len(replies) == 1 and TRY_AGAIN in replies[0], replies
            replies = await slack_says(SOFIE, f"agenda 1) outage-agenda-{n}")
            assert len(replies) == 1 and TRY_AGAIN in replies[0], replies
            tries["chat during the outage"] += 2
            assert server.alive, server.tail()
            await asyncio.sleep(1.0)
        assert health_during == {503}
        assert server.alive, server.tail()

        proxy.restore()
        await until(lambda: _healthy(server, http), 30, what="/healthz to say 200 again")
        clock.set(clock.now + CLAIM_TIMEOUT + timedelta(minutes=1))  # claims cut mid-send
        await until(lambda: settled_now(db, clock), 120, what="everything due to go out")
        with db.unit() as session:
            half_applied = session.exec(select(Meeting.id).where(
                Meeting.note.contains("outage-"))).all() + session.exec(select(Agenda.id).where(
                    Agenda.text.contains("outage-"))).all()
        assert half_applied == []
        # Trying again works, once.
        assert "Logged" in (await teams_says(JONAS, "log yesterday 14:00 45m after-note"))[0]
        assert TRY_AGAIN not in " ".join(await slack_says(SOFIE, "agenda 1) after-agenda"))
        await until(lambda: settled_now(db, clock), 60, what="the agenda to be forwarded")
        assert server.alive, server.tail()
    finally:
        await http.close()
        server.stop()
        await proxy.close()
        await connector.close()
        await slack.stop()

    with db.unit() as session:
        rows = list(session.exec(select(Delivery)))
        meetings = session.exec(select(Meeting.note)).all()
        agendas = session.exec(select(Agenda.text)).all()
    db.dispose()
    now = clock.now
    due = [r for r in rows
           if r.status != "pending" or max(r.due_at, r.next_try_at or r.due_at) <= now]
    teams_posts = Counter(c.id for c in proactive(connector))
    slack_posts = Counter(f"{c.params['channel']}:{c.result['ts']}"
                          for c in slack.to("chat.postMessage") if c.result.get("ok"))
    posted = teams_posts + slack_posts
    sent = {r.platform_ref for r in due if r.status == "sent"}
    lost = [r for r in due if r.status in ("pending", "claimed")
            or (r.status != "sent" and not r.last_error)
            or (r.status == "sent" and posted[r.platform_ref] != 1)]
    duplicates = [ref for ref in posted if ref not in sent]
    log = (tmp_path / "serve.log").read_text()
    figures.add("database: PostgreSQL cut for 30 s", faults=1 + proxy.severed + proxy.refused,
                inputs=sum(tries.values()) + 4, expected=len(due),
                delivered=sum(1 for r in due if r.status == "sent"),
                duplicated=len(duplicates), lost=len(lost),
                failed=sum(1 for r in due if r.status == "failed"),
                skipped=sum(1 for r in due if r.status == "skipped"),
                seconds=time.monotonic() - started,
                note=f"{proxy.severed} connections severed, {proxy.refused} refused; "
                     f"{tries['chat during the outage']} chat commands (Teams + Slack) all got "
                     "'try again in a moment'; /healthz 503 during, 200 after; serve never died")
    assert lost == [], [(r.id, r.kind, r.status, r.last_error) for r in lost[:10]]
    # The message in flight when the database went away was posted; its "sent" mark waits
    # for the database (Dispatcher._settle) instead of the claim timing out and a resend.
    assert duplicates == [], duplicates
    assert meetings.count("after-note") == 1 and agendas.count("1) after-agenda") == 1
    assert not any("outage-" in text for text in [*meetings, *agendas])
    assert "Error handling request" not in log, log[-3000:]  # no handler crashed (no 500)
    assert proxy.severed + proxy.refused > 0 and tries["chat during the outage"] >= 10


def proactive(connector: FakeConnector) -> list:
    return [c for c in connector.calls if c.method == "POST" and c.activity_id == ""
            and 200 <= c.status < 300]


def settled_now(db: Database, clock: ClockFile) -> bool:
    return settled(db, clock.now)


async def _healthy(server: Serve, http) -> bool:
    return await server.health(http) == 200
