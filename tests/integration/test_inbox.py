"""The inbox on SQLite and PostgreSQL: stored once, one claim per sender in arrival order, dead
claims taken over, a row that keeps failing parked with its reason."""
from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import select

from storage import inbox
from storage.inbox import Inbound
from storage.tables import InboxItem

NOW = datetime(2026, 9, 3, 8, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=120)


def _store(db, key: str, sender: str) -> bool:
    """Stored with the key as its body, so a claim says which request it took."""
    return inbox.store(db.engine, Inbound(key, "slack", "command", sender, key, NOW))


def _claim(db, worker: str, now: datetime = NOW, limit: int = 10) -> list[str]:
    with db.unit() as session:
        return [row.body for row in inbox.claim(session, now, worker, limit)]


def _done(db, key: str) -> None:
    with db.unit() as session:
        row = session.exec(select(InboxItem).where(InboxItem.key == inbox.key_of(key))).one()
        inbox.done(session, row.id, NOW)


def test_a_retried_request_is_stored_once(database):
    assert _store(database, "slack:command:1", "slack:U1")
    assert not _store(database, "slack:command:1", "slack:U1")
    with database.unit() as session:
        assert inbox.counts(session) == {"pending": 1}


def test_one_sender_at_a_time_in_arrival_order(database):
    for key, sender in (("a1", "slack:A"), ("b1", "slack:B"), ("a2", "slack:A"),
                        ("a3", "slack:A")):
        _store(database, key, sender)
    assert _claim(database, "w1") == ["a1", "b1"]  # a2 waits for a1
    assert _claim(database, "w2") == []  # a second worker finds nothing of A's or B's
    _done(database, "a1")
    assert _claim(database, "w2") == ["a2"]
    _done(database, "a2")
    _done(database, "b1")
    assert _claim(database, "w1") == ["a3"]


def test_a_dead_claim_is_taken_over_and_a_row_that_keeps_dying_is_parked(database):
    _store(database, "k", "slack:A")
    now = NOW
    for attempt in range(1, 4):
        assert _claim(database, f"dead{attempt}", now) == ["k"]
        now += TIMEOUT + timedelta(seconds=1)
        with database.unit() as session:
            assert inbox.take_over(session, now, TIMEOUT, max_attempts=3) == 1
    with database.unit() as session:
        [row] = inbox.parked(session)
        assert row.status == "parked" and row.attempts == 3
        assert row.last_error == "claimed 3 times and never finished" and row.body == ""
        assert inbox.open_count(session) == 0


def test_a_failing_row_is_retried_later_then_parked_with_its_reason(database):
    _store(database, "k", "slack:A")
    now = NOW
    for attempt in range(1, 3):
        with database.unit() as session:
            [row] = inbox.claim(session, now, "w", 1)
            status = inbox.retry_or_park(session, row, now, "database unavailable", 2)
        assert status == ("pending" if attempt == 1 else "parked")
        assert _claim(database, "w", now) == []  # not before its pause is over
        now += timedelta(minutes=5)
    with database.unit() as session:
        assert [r.last_error for r in inbox.parked(session)] == ["database unavailable"]


async def test_the_scheduler_waits_for_a_burst_of_chat_to_pass(sqlite_database, monkeypatch):
    """`serve`'s beat awaits `quiet` before a tick: not while commands keep arriving (their
    acknowledgements come first), yet never longer than its bound."""
    from bot.inbox import worker as inbox_worker

    monkeypatch.setattr(inbox_worker, "QUIET_SECONDS", 1.0)
    worker = inbox_worker.InboxWorker(sqlite_database, None, lambda: NOW, "w")
    try:
        beat = asyncio.ensure_future(worker.quiet(most=60))
        await asyncio.sleep(0)
        assert beat.done()  # nothing stored: no wait

        await worker.store(Inbound("slack:command:1", "slack", "command", "slack:U1", "{}", NOW))
        beat = asyncio.ensure_future(worker.quiet(most=60))
        await asyncio.sleep(0.05)
        assert not beat.done()  # a command a moment ago
        await asyncio.wait_for(beat, 10)  # a second later, quiet

        bounded = asyncio.ensure_future(worker.quiet(most=0.3))
        for n in range(100):  # commands every 50 ms: never quiet, but the wait has a bound
            if bounded.done():
                break
            await worker.store(Inbound(f"slack:command:b{n}", "slack", "command", "slack:U2",
                                       "{}", NOW))
            await asyncio.sleep(0.05)
        assert bounded.done() and 3 <= n < 100
    finally:
        await worker.stop(grace=0)


async def test_the_scheduler_also_waits_for_the_answers_in_flight(sqlite_database, monkeypatch):
    """A burst acknowledged is not a burst answered: while the worker still answers, the beat
    keeps waiting (replies before nudges)."""
    from bot.inbox import worker as inbox_worker

    monkeypatch.setattr(inbox_worker, "QUIET_SECONDS", 0.1)
    release, started = asyncio.Event(), asyncio.Event()

    class Slow:
        async def process(self, job) -> None:
            started.set()
            await release.wait()

    worker = inbox_worker.InboxWorker(sqlite_database, None, lambda: NOW, "w")
    worker.processors["slack"] = Slow()
    worker.start()
    try:
        await worker.store(Inbound("slack:command:1", "slack", "command", "slack:U1", "{}", NOW))
        await asyncio.wait_for(started.wait(), 10)
        beat = asyncio.ensure_future(worker.quiet(most=60))
        await asyncio.sleep(0.5)  # five quiet periods without a store, but an answer in flight
        assert not beat.done()
        release.set()
        await asyncio.wait_for(beat, 10)
        await asyncio.wait_for(worker.idle(), 10)
        with sqlite_database.unit() as session:
            assert inbox.counts(session) == {"done": 1}
    finally:
        release.set()
        await worker.stop(grace=1)


def test_a_request_is_taken_at_the_door_when_its_sender_has_nothing_open(database):
    """The worker that stores a request may take it at once (stored claimed by it): only when
    its sender has nothing open, and a sender with a row taken is skipped by every claim."""
    def store(key: str, sender: str, taker: str = "door"):
        return inbox.store(database.engine, Inbound(key, "slack", "command", sender, key, NOW),
                           taker)

    taken = store("a1", "slack:A")
    assert isinstance(taken, inbox.Taken) and (taken.body, taken.attempts) == ("a1", 1)
    assert store("a2", "slack:A") is True  # A has a1 open: a2 waits, pending
    assert store("a1", "slack:A") is False  # a retry of a1: stored once
    assert isinstance(store("b1", "slack:B"), inbox.Taken)
    assert store("c1", "slack:C", taker="") is True  # no free hand: pending, for any claim
    assert _claim(database, "other") == ["c1"]  # nothing of A's or B's while they are taken
    with database.unit() as session:
        assert inbox.ready_count(session, NOW, "door") == 3  # its own two, and a2 waiting
        inbox.done(session, taken.id, NOW)
    assert _claim(database, "other") == ["a2"]


def test_stores_of_one_sender_at_the_same_moment_take_at_most_one(database):
    """Several replicas (threads here) store one person's double-click and more at once, each
    with a hand free: one row is taken, the others wait pending (the unique index of claimed
    senders decides, whoever was first)."""
    from concurrent.futures import ThreadPoolExecutor

    def store(n: int):
        return inbox.store(database.engine, Inbound(f"k{n}", "slack", "action", "slack:A",
                                                    str(n), NOW), f"replica{n % 4}")

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(store, range(40)))
    assert sum(isinstance(r, inbox.Taken) for r in results) == 1
    assert all(r is True for r in results if not isinstance(r, inbox.Taken))
    with database.unit() as session:
        assert inbox.counts(session) == {"claimed": 1, "pending": 39}


async def test_a_command_taken_at_the_door_is_answered_without_a_claim(database):
    """A worker with a free hand answers what it stored straight away: no claim statement
    (one statement and one commit less a command), and the row is done."""
    from sqlalchemy import event

    from bot.inbox.worker import InboxWorker

    answered: list[str] = []

    class Echo:
        async def process(self, job) -> None:
            answered.append(job.row.body)

    claims: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE INBOX SET STATUS"):
            claims.append(statement)

    worker = InboxWorker(database, None, lambda: NOW, "w", poll=60)
    worker.processors["slack"] = Echo()
    worker.start()
    await asyncio.sleep(0.05)  # its first look finds nothing
    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        for n in range(3):
            await worker.store(Inbound(f"slack:command:{n}", "slack", "command",
                                       f"slack:U{n}", f"c{n}", NOW))
        for _ in range(1000):  # settled on the database (`idle` would wake the claim loop)
            with database.unit() as session:
                if inbox.counts(session) == {"done": 3}:
                    break
            await asyncio.sleep(0.01)
        assert sorted(answered) == ["c0", "c1", "c2"]
        assert claims == []
        with database.unit() as session:
            assert inbox.counts(session) == {"done": 3}
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
        await worker.stop(grace=1)
