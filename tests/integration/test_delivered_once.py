"""Delivered once: after a crash at any point, and with two workers on one database."""
import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from app import build
from conversations.clock import FakeClock
from storage.db import Database
from storage.tables import Delivery
from tests.fakes import RecordingMessenger
from tests.helpers import import_programme

KICKOFF_DAY = datetime(2026, 9, 1, 8, 0, tzinfo=timezone.utc)


class Crash(BaseException):
    """Stands in for SIGKILL: nothing after it runs, no handler sees it."""


class CrashingMessenger(RecordingMessenger):
    def __init__(self, after: int) -> None:
        super().__init__()
        self.after = after

    async def send(self, recipient, message):
        if len(self.sent) >= self.after:
            raise Crash()
        return await super().send(recipient, message)


def _statuses(db) -> dict[str, int]:
    with db.unit() as s:
        rows = s.exec(select(Delivery.status)).all()
    return {status: rows.count(status) for status in set(rows)}


async def test_crash_between_claim_and_send_loses_nothing_and_sends_nothing_twice(
        database, clock):
    first = CrashingMessenger(after=3)
    services = build(clock=clock, messenger=first, db=database, worker="a")
    import_programme(database, now=clock.now())
    clock.set(KICKOFF_DAY)
    with pytest.raises(Crash):
        await services.pump()
    assert len(first.sent) == 3
    assert _statuses(database).get("claimed", 0) > 0  # claimed, never sent: the crash

    # Restart: a new process, after the claim timeout has passed.
    clock.advance(minutes=11)
    second = RecordingMessenger()
    restarted = build(clock=clock, messenger=second, db=database, worker="b")
    await restarted.pump()
    delivered = [s.email for s in first.sent + second.sent]
    # Everyone whose working day has begun (Grace in Chicago is still asleep), once each.
    assert len(delivered) == len(set(delivered)) == 8
    assert _statuses(database).get("claimed", 0) == 0


async def test_crash_during_the_tick_proposes_nothing_twice(database, clock):
    from sqlalchemy import update
    from storage.tables import Pair

    import_programme(database, now=clock.now())
    clock.set(KICKOFF_DAY)
    messenger = RecordingMessenger()
    services = build(clock=clock, messenger=messenger, db=database)
    services.ticker.tick()
    with database.unit() as s:
        count = len(s.exec(select(Delivery)).all())
        # As if the process died before it recorded the pairs' next checks.
        s.execute(update(Pair).values(next_check_at=clock.now() - timedelta(hours=1)))
    services.ticker.tick()
    await services.dispatcher.run_once()
    with database.unit() as s:
        assert len(s.exec(select(Delivery)).all()) == count
    emails = [s.email for s in messenger.sent]
    assert len(emails) == len(set(emails)) == 8


async def test_a_send_that_finished_is_never_repeated_after_restart(database, clock):
    import_programme(database, now=clock.now())
    clock.set(KICKOFF_DAY)
    messenger = RecordingMessenger()
    services = build(clock=clock, messenger=messenger, db=database)
    await services.pump()
    sent = len(messenger.sent)
    for _ in range(3):  # restarts, ticks and rounds again and again
        clock.advance(minutes=11)
        again = build(clock=clock, messenger=messenger, db=database)
        await again.pump()
    assert len(messenger.sent) == sent


@pytest.mark.postgres
async def test_two_workers_on_postgres_deliver_every_prompt_exactly_once(postgres_url, tmp_path):
    from bot.simulation.run import _generated_programme
    from tests.conftest import _truncate
    from tests.helpers import SAMPLE

    setup = Database(postgres_url)
    _truncate(setup)
    clock = FakeClock(datetime(2026, 9, 1, 13, 0, tzinfo=timezone.utc))
    import_programme(setup, _generated_programme(tmp_path, SAMPLE, 150), now=clock.now())
    messengers = [RecordingMessenger(), RecordingMessenger()]
    workers = [build(clock=clock, messenger=m, db=Database(postgres_url), worker=f"w{i}")
               for i, m in enumerate(messengers)]
    for w in workers:
        w.ticker.batch_size = 20  # many small batches, so the two really interleave
        w.dispatcher.batch_size = 20
    # Both tick and deliver at the same moments, over a few hours of the first day.
    for _ in range(6):
        await asyncio.gather(*(asyncio.to_thread(w.ticker.tick) for w in workers))
        await asyncio.gather(*(w.dispatcher.run_once() for w in workers))
        clock.advance(hours=1)
    sent = [s.email for m in messengers for s in m.sent]
    assert all(m.sent for m in messengers)  # both did part of the work
    assert len(sent) == len(set(sent)) > 200  # every kick-off once, nobody twice
    with setup.unit() as s:
        statuses = s.exec(select(Delivery.status)).all()
    assert statuses.count("sent") == len(sent) and "claimed" not in statuses
    for w in workers:
        w.db.dispose()
    setup.dispose()


class HangsAfterPosting(RecordingMessenger):
    """Takes the first post and never answers: the process dies while it waits."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting: asyncio.Task | None = None

    async def send(self, recipient, message):
        await super().send(recipient, message)
        self.waiting = asyncio.current_task()
        await asyncio.Event().wait()


class ReadsBack(RecordingMessenger):
    def __init__(self) -> None:
        super().__init__()
        self.read: list[tuple[str, ...]] = []

    async def find_sent(self, recipient, keys, since):
        self.read.append(keys)
        return {}


async def test_after_a_crash_only_a_claim_whose_post_had_started_is_read_back(database, clock):
    from conversations.outbox import Dispatcher
    from conversations.texts import Texts

    import_programme(database, now=clock.now())
    clock.set(KICKOFF_DAY)
    build(clock=clock, messenger=RecordingMessenger(), db=database).ticker.tick()
    first = HangsAfterPosting()
    dying = Dispatcher(database, clock, Texts(), first, worker="a", in_flight=1)
    run = asyncio.create_task(dying.run_once())
    while first.waiting is None:
        await asyncio.sleep(0.01)
    run.cancel()  # the process dies with one post out and the rest of its batch claimed
    await asyncio.sleep(0)
    first.waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    with database.unit() as s:
        claimed = s.exec(select(Delivery).where(Delivery.status == "claimed")).all()
    assert len(claimed) > 2 and sum(1 for r in claimed if r.attempt_at is not None) == 1

    clock.advance(minutes=11)  # past the claim timeout: a new process takes the rows over
    second = ReadsBack()
    await build(clock=clock, messenger=second, db=database, worker="b").dispatcher.run_once()
    [unsure] = [r for r in claimed if r.attempt_at is not None]
    assert second.read == [(unsure.key,)]  # only the one whose post may be out
    with database.unit() as s:
        rows = {r.id: r for r in s.exec(select(Delivery))}
    assert rows[unsure.id].ambiguous == 1 and rows[unsure.id].unsure_since is not None
    assert all(rows[r.id].ambiguous == 0 for r in claimed if r.id != unsure.id)
    assert all(rows[r.id].status == "sent" for r in claimed)
