"""Platform faults: Slack and Teams answer 429, 500, time out and drop connections on a share of
calls (FAULTS_CHAOS_SHARE, 20 % by default) through a programme month and a 1,000-person
broadcast. In the end every prompt was delivered or recorded as failed with the reason after
its last try; nothing was lost. On Slack exactly once: after an ambiguous failure the outbox
reads the DM back and finds the post by its metadata. On Teams (no read-back for bots) an extra
copy may follow an ambiguous failure, and each is counted by the bot and explained by the
fake. See tests/faults/ledger.py for the accounting.
"""
from __future__ import annotations

import os
import types
from collections import Counter
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from slack_sdk.http_retry import builtin_async_handlers
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from sqlmodel import select

from bot.simulation.people import Persona, Simulation
from storage import answers, outbox
from storage.people import person_by_email, remember_identity
from storage.roster_file import read_programme
from storage.tables import Delivery, Person
from tests.fake_slack_api import dm_of, workspace
from tests.fake_teams_connector import serve_bot, teams_user
from tests.faults.conftest import roster
from tests.faults.ledger import Ledger
from tests.helpers import import_programme

pytestmark = pytest.mark.faults

SHARE = float(os.environ.get("FAULTS_CHAOS_SHARE", "0.2"))
MONTH_PAIRS = 40
BROADCAST_PAIRS = 500  # 1,000 recipients
ZONES = ("Europe/Copenhagen", "America/New_York", "Asia/Singapore")
CLIENT_TIMEOUT = 0.75  # seconds; the fakes' timeouts hang for twice that
SLACK_METHODS = ("chat.postMessage", "conversations.open", "users.lookupByEmail",
                 "conversations.history")
BROADCAST_AT = datetime(2026, 9, 8, 8, 0, tzinfo=timezone.utc)  # a Tuesday, 10:00 in Copenhagen
TEXT = "Town hall on Friday at 14:00 in the canteen, {{ first_name }}. Bring a question!"


def slack_effective(call) -> bool:
    return call.method == "chat.postMessage" and bool(call.result.get("ok"))


def teams_effective(call) -> bool:
    return call.method == "POST" and 200 <= call.status < 300 and call.activity_id == ""


def slack_owner(call) -> str:
    return call.params.get("channel", "")


def slack_owner_of(fake):
    """The DM a batch goes to: found by the recipient's email, as the messenger finds it."""
    def owner_of(batch) -> str:
        user = next((u for u, email in fake.users.items() if email == batch.recipient.email), "")
        return dm_of(user) if user else ""
    return owner_of


def teams_owner(call) -> str:
    return call.conversation_id


def teams_owner_of(batch) -> str:
    return next((a.conversation_id for a in batch.recipient.addresses if a.platform == "teams"),
                "")


def ambiguous(call) -> bool:
    """Its answer never reached the bot: lost by chaos after the fact, or too late."""
    return call.chaos.endswith("-after") or call.chaos == "late"


def quick_slack_client(slack, monkeypatch) -> None:
    """Real waits, shortened (as VirtualTime does for Teams): the client gives up after
    CLIENT_TIMEOUT, reconnects after 20 ms, and a 429's Retry-After (0 here) gets no jitter."""
    client = slack.chat.client
    client.timeout = CLIENT_TIMEOUT
    for handler in client.retry_handlers:
        if isinstance(handler, AsyncConnectionErrorRetryHandler):
            handler.interval_calculator = FixedValueRetryIntervalCalculator(0.02)
    monkeypatch.setattr(builtin_async_handlers, "random", types.SimpleNamespace(random=lambda: 0.0))


async def quick_teams_client(bot) -> None:
    """The connector's HTTP client with CLIENT_TIMEOUT instead of 30 s (its backoff and pacing
    already run on VirtualTime)."""
    connector = bot.router.messengers["teams"].connector
    await connector.close()
    connector._session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT), trust_env=False)


class CountingEngine:
    """The engine the simulated people talk to, counting what they say."""

    def __init__(self, engine) -> None:
        self.engine, self.inputs = engine, 0

    def handle(self, event):
        self.inputs += 1
        return self.engine.handle(event)


def personas(programme_file, start: datetime) -> dict[str, Persona]:
    parsed = read_programme(programme_file)
    end = datetime.combine(parsed.ends, datetime.min.time(), timezone.utc)
    keys = sorted({r.pair for r in parsed.rows if r.pair})
    style = {key: ("steady", "steady", "fading", "abandons")[i % 4] for i, key in enumerate(keys)}
    return {r.email: Persona(r.email, r.role, r.language, r.timezone, style[r.pair], start, end)
            for r in parsed.rows if r.pair}


async def live_month(services, clock, ledger: Ledger, people: dict[str, Persona],
                     days: int = 30) -> int:
    """A month of the programme: the timeline ticks, prompts go out, people answer and log
    meetings as real pairs do (bot/simulation); returns how many lines they typed."""
    def dialog_open(email: str) -> str | None:
        with services.db.unit() as session:
            person = person_by_email(session, email)
            state = answers.dialog_of(session, person.id) if person else None
            return state.form if state else None

    engine = CountingEngine(services.engine)
    simulation = Simulation(engine, people, dialog_open)
    end = clock.now() + timedelta(days=days)
    reacted: set[int] = set()
    while clock.now() < end:
        await services.pump()
        with services.db.unit() as session:
            sent = session.exec(select(Delivery.id, Delivery.kind, Person.email)
                                .join(Person, Person.id == Delivery.person_id)
                                .where(Delivery.status == "sent")).all()
            upcoming = outbox.next_due_moment(session)
        for row_id, kind, email in sent:
            if row_id not in reacted and row_id in ledger.message:
                reacted.add(row_id)
                simulation.react(email, kind, ledger.message[row_id], clock.now())
        simulation.act(clock.now())
        moments = [clock.now() + timedelta(hours=6), *simulation.upcoming()]
        moments += [upcoming] if upcoming else []
        clock.set(max(min(moments), clock.now() + timedelta(minutes=1)))
    return engine.inputs


async def drain(services, clock, where=(), rounds: int = 3000) -> None:
    """No new prompts: keep delivering (faults and all) until every row has its outcome."""
    for _ in range(rounds):
        await services.dispatcher.run_once()
        with services.db.unit() as session:
            rows = session.exec(select(Delivery.due_at, Delivery.next_try_at).where(
                Delivery.status.in_(("pending", "claimed")), *where)).all()
        if not rows:
            return
        due = min(max(d, t or d) for d, t in rows)
        clock.set(max(due, clock.now() + timedelta(minutes=1)))
    raise AssertionError("the outbox did not settle")


def report(figures, scenario: str, account, faults: Counter, extra: int = 0,
           inputs: int = 0) -> None:
    kinds = ", ".join(f"{k}×{n}" for k, n in sorted(faults.items()))
    outcomes = ", ".join(f"{k}×{n}" for k, n in sorted(account.reasons.items()))
    figures.add(scenario, faults=sum(faults.values()) + extra, inputs=inputs,
                **account.figures(), why=account.why,
                note=f"faults: {kinds}" + (f" (+{extra} permanent refusals)" if extra else ""))
    if outcomes:
        figures.add(scenario, note=f"outcomes: {outcomes}")
    if account.arrived_unrecorded:
        figures.add(scenario, note=f"{account.arrived_unrecorded} reached the person though "
                                   "recorded failed/skipped (their answers were lost)")


def check(account, ledger: Ledger) -> None:
    assert account.lost == 0, account.lost_rows[:10]
    assert account.unexplained == [], account.unexplained[:10]
    assert account.early == [], account.early[:10]  # failed only after the last try
    assert ledger.stray() == 0  # nothing reached the platform outside a send of the outbox
    assert account.delivered + account.failed + account.skipped == account.expected
    assert account.duplicated <= account.ambiguous


# -- a month --------------------------------------------------------------------------------

async def test_a_slack_month_with_platform_trouble(sqlite_database, clock, tmp_path, figures,
                                                   timed, monkeypatch):
    programme = roster(tmp_path, MONTH_PAIRS, zones=ZONES)
    import_programme(sqlite_database, programme, now=clock.now())
    people = personas(programme, clock.now())
    ghost, inactive = "mentee7@example.org", "mentor11@example.org"
    ids = {email: f"U{n:05d}" for n, email in enumerate(sorted(people))}
    with timed("platform: Slack, a month"):
        async with workspace(sqlite_database, clock,
                             env={"SLACK_POSTS_PER_MINUTE": "60000"}) as slack:
            fake = slack.fake
            fake.users.update({uid: email for email, uid in ids.items() if email != ghost})
            fake.fail("chat.postMessage", error="account_inactive", times=0,
                      channel=dm_of(ids[inactive]))
            quick_slack_client(slack, monkeypatch)
            chaos = fake.make_chaos(SHARE, seed=8, methods=SLACK_METHODS,
                                    hang=2 * CLIENT_TIMEOUT, retry_after=0)
            ledger = Ledger(slack.services.dispatcher, lambda: fake.calls, slack_effective,
                            ambiguous, slack_owner, slack_owner_of(fake))
            typed = await live_month(slack.services, clock, ledger, people)
            with sqlite_database.unit() as session:
                cutoff = max(session.exec(select(Delivery.id)).all())
            await drain(slack.services, clock, [Delivery.id <= cutoff])
            account = ledger.account(sqlite_database, [Delivery.id <= cutoff],
                                     permanent=("account_inactive",))
            refusals = sum(1 for c in fake.to("chat.postMessage")
                           if c.params.get("channel") == dm_of(ids[inactive]))
    report(figures, "platform: Slack, a month", account, chaos.injected, refusals, typed)
    check(account, ledger)
    assert account.duplicated == 0 and account.ambiguous > 0  # read back, found, not reposted
    assert account.expected > 4 * len(people) and typed > 50
    assert account.reasons["failed: account_inactive"] >= 1
    assert account.reasons["failed: not_installed"] >= 1
    assert sum(chaos.injected.values()) > 50


async def test_a_teams_month_with_platform_trouble(sqlite_database, clock, tmp_path, figures,
                                                   timed):
    programme = roster(tmp_path, MONTH_PAIRS, zones=ZONES)
    people = personas(programme, clock.now())
    ghost = "mentee7@example.org"  # never adds the bot in Teams
    with timed("platform: Teams, a month"):
        bot = await serve_bot(sqlite_database, clock)
        try:
            import_programme(bot.services.db, programme, now=clock.now())
            bot.connector.users.update({email: teams_user(email) for email in people})
            for email in people:
                if email != ghost:
                    await bot.teams.install(email)
            await quick_teams_client(bot)
            chaos = bot.connector.make_chaos(SHARE, seed=9, methods=("POST",),
                                             hang=2 * CLIENT_TIMEOUT)
            ledger = Ledger(bot.services.dispatcher, lambda: bot.connector.calls,
                            teams_effective, ambiguous, teams_owner, teams_owner_of)
            typed = await live_month(bot.services, clock, ledger, people)
            with sqlite_database.unit() as session:
                cutoff = max(session.exec(select(Delivery.id)).all())
            await drain(bot.services, clock, [Delivery.id <= cutoff])
            account = ledger.account(sqlite_database, [Delivery.id <= cutoff])
        finally:
            await bot.close()
    report(figures, "platform: Teams, a month", account, chaos.injected, inputs=typed)
    check(account, ledger)
    assert account.expected > 4 * len(people) and typed > 50
    assert account.reasons["failed: not_installed"] >= 1
    assert sum(chaos.injected.values()) > 50


# -- a broadcast to 1,000 -------------------------------------------------------------------

def known_everywhere(db, programme, now, address) -> list[str]:
    """Everyone has written to the bot before: their identity (DM, conversation) is stored."""
    emails = [r.email for r in read_programme(programme).rows]
    with db.unit() as session:
        for n, email in enumerate(emails):
            person = person_by_email(session, email)
            remember_identity(session, person, now=now, **address(n, email))
    return emails


async def test_a_slack_broadcast_to_1000_with_platform_trouble(sqlite_database, clock, tmp_path,
                                                               figures, timed, monkeypatch):
    programme = roster(tmp_path, BROADCAST_PAIRS)
    import_programme(sqlite_database, programme, now=clock.now())
    clock.set(BROADCAST_AT)
    emails = known_everywhere(sqlite_database, programme, clock.now(), lambda n, email: dict(
        platform="slack", user_id=f"U{n:05d}", tenant_id="T0NORDLYS",
        conversation_id=dm_of(f"U{n:05d}")))
    with timed("platform: Slack, broadcast to 1,000"):
        async with workspace(sqlite_database, clock,
                             env={"SLACK_POSTS_PER_MINUTE": "60000"}) as slack:
            fake = slack.fake
            fake.users.update({f"U{n:05d}": email for n, email in enumerate(emails)})
            manager = "U00000"  # manager@example.org, first on the roster
            await slack.command(manager, f"announce everyone {TEXT}")
            await slack.settle()
            key = await slack.command(manager, "announce confirm")
            await slack.settle()
            assert "1000" in str(fake.responses(key)), fake.responses(key)
            quick_slack_client(slack, monkeypatch)
            chaos = fake.make_chaos(SHARE, seed=10, methods=SLACK_METHODS,
                                    hang=2 * CLIENT_TIMEOUT, retry_after=0)
            ledger = Ledger(slack.services.dispatcher, lambda: fake.calls, slack_effective,
                            ambiguous, slack_owner, slack_owner_of(fake))
            announced = [Delivery.kind == "announcement"]
            await drain(slack.services, clock, announced)
            account = ledger.account(sqlite_database, announced)
    report(figures, "platform: Slack, broadcast to 1,000", account, chaos.injected)
    check(account, ledger)
    assert account.duplicated == 0 and account.ambiguous > 0
    assert account.expected == 1000 and account.delivered >= 990
    assert sum(chaos.injected.values()) > 100


async def test_a_teams_broadcast_to_1000_with_platform_trouble(sqlite_database, clock, tmp_path,
                                                               figures, timed):
    programme = roster(tmp_path, BROADCAST_PAIRS)
    with timed("platform: Teams, broadcast to 1,000"):
        bot = await serve_bot(sqlite_database, clock)
        try:
            import_programme(bot.services.db, programme, now=clock.now())
            clock.set(BROADCAST_AT)
            url = bot.connector.url
            emails = known_everywhere(bot.services.db, programme, clock.now(),
                                      lambda n, email: dict(
                                          platform="teams", user_id=teams_user(email).aad_object_id,
                                          conversation_id=teams_user(email).conversation_id,
                                          service_url=url))
            bot.connector.users.update({email: teams_user(email) for email in emails})
            manager = "manager@example.org"
            await bot.teams.say(manager, f"announce everyone {TEXT}")
            [confirmed] = await bot.teams.say(manager, "announce confirm")
            assert "1000" in confirmed.shown, confirmed.shown
            await quick_teams_client(bot)
            chaos = bot.connector.make_chaos(SHARE, seed=11, methods=("POST",),
                                             hang=2 * CLIENT_TIMEOUT)
            ledger = Ledger(bot.services.dispatcher, lambda: bot.connector.calls,
                            teams_effective, ambiguous, teams_owner, teams_owner_of)
            announced = [Delivery.kind == "announcement"]
            await drain(bot.services, clock, announced)
            account = ledger.account(sqlite_database, announced)
        finally:
            await bot.close()
    report(figures, "platform: Teams, broadcast to 1,000", account, chaos.injected)
    check(account, ledger)
    assert account.expected == 1000 and account.delivered >= 990
    assert sum(chaos.injected.values()) > 100
