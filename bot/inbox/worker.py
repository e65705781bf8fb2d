"""The inbox worker: claims stored requests, runs the engine, hands the reply to its platform.

Every `serve` process runs one. A store in this process wakes it at once (ack → reply in
milliseconds); a short poll finds what other replicas stored. The platform that stored a row
processes it (`Platform.process(job)`); the worker owns the bookkeeping: one claim per sender
at a time, the engine's reply saved with the turn, retries, parking, taking over dead claims.

A worker with a free hand takes a request at the door: the store that acknowledges it stores
it claimed by this worker (when its sender has nothing open), and the answer starts at once,
with no claim. Otherwise a claim is a write, so the worker claims only when there may be
something to take: a row stored here, a claim that came back full, a sender with a row stored
behind the one that just finished, or the poll.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Protocol

from bot.inbox.replies import decode
from bot.inbox.turns import Turn, TurnProcesses, TurnStopped, in_thread
from conversations.engine import Engine, Reply
from conversations.messages import InboundEvent
from storage import inbox
from storage.db import Database, Unavailable
from storage.tables import InboxItem

log = logging.getLogger(__name__)
CLAIM_TIMEOUT = timedelta(seconds=120)
POLL_SECONDS = 0.5
MAX_ATTEMPTS = 5
KEEP_DONE = timedelta(days=1)  # answered keys kept to recognise a platform's retry
IN_FLIGHT = 4  # rows answered at once by one process (the engine is CPU-bound)
ACK_THREADS = 4  # threads that only store (the ack path), so acks never queue behind answers
QUIET_SECONDS = 0.5  # nothing stored or answered for this long: the chat is quiet
OUTAGE_PAUSE = 5.0


class Turns:
    """A store (the ack path) goes first: the inbox's other database work (claims, engine
    turns, settles) does not start while one is waiting or running, so an ack is not kept
    behind answers (they are the inbox's to catch up on). On SQLite (`exclusive`) they also
    take turns with each other: SQLite has one writer at a time, and a writer that finds the
    file locked sleeps in steps of up to 100 ms, where this hands over at once."""

    def __init__(self, exclusive: bool) -> None:
        self.exclusive = exclusive
        self._change = threading.Condition()
        self._busy = False
        self._first = 0  # stores waiting or running

    @contextmanager
    def take(self, first: bool = False):
        with self._change:
            self._first += first
            while (self.exclusive and self._busy) or (self._first and not first):
                self._change.wait()
            self._busy = True
        try:
            yield
        finally:
            with self._change:
                self._first -= first
                self._busy = False
                self._change.notify_all()


class Processor(Protocol):
    async def process(self, job: "Job") -> None: ...


class Failed(Exception):
    """The request could not be answered now; the row is tried again later (or parked)."""


class Job:
    """One claimed row: its stored request, and the engine turn that answers it (at most once)."""

    def __init__(self, row: InboxItem, turn: Turn, last_try: bool) -> None:
        self.row = row
        self._turn = turn
        self.last_try = last_try
        self.parked_because = ""  # the engine failed on the last try: answered, then parked

    async def answer(self, event: InboundEvent) -> Reply:
        """The engine's reply to `event`: saved with the turn (the request's record: its key
        turns a platform's retry away, its saved reply a second run), or the one saved by a
        worker that died before sending it."""
        if self.row.reply_json:
            return decode(self.row.reply_json)
        try:
            reply = await self._turn(event, self.row.id)
        except TurnStopped as stopped:
            raise Failed(str(stopped)) from None
        if reply.failure and not self.last_try:
            raise Failed(reply.failure)
        self.parked_because = reply.failure  # the person still hears "try again" / "sorry"
        return reply


class InboxWorker:
    def __init__(self, db: Database, engine: Engine, wall: Callable[[], datetime], name: str,
                 *, claim_timeout: timedelta = CLAIM_TIMEOUT, poll: float = POLL_SECONDS,
                 max_attempts: int = MAX_ATTEMPTS, in_flight: int = IN_FLIGHT) -> None:
        self.db, self.engine, self.wall, self.name = db, engine, wall, name
        self.claim_timeout, self.poll = claim_timeout, poll
        self.max_attempts, self.in_flight = max_attempts, in_flight
        self.processors: dict[str, Processor] = {}
        # Where engine turns run: this process's answer threads, unless `serve` gives the
        # worker processes of their own (bot/inbox/turns.py).
        self.turns: Turn | TurnProcesses = in_thread(engine, self._in_turn)
        # Two small pools: storing (the ack path) never waits for a thread busy answering.
        self._acks = ThreadPoolExecutor(ACK_THREADS, thread_name_prefix="inbox-store")
        self._answers = ThreadPoolExecutor(in_flight + 1, thread_name_prefix="inbox-answer")
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._runner: asyncio.Task | None = None
        self._stopping = False
        self._last_takeover = 0.0
        self._done: list[tuple[int, asyncio.Future]] = []  # answered, not yet marked done
        self._marking = False
        self._stored = False  # a row stored here since the last claim
        self._taking = 0  # stores under way that may take their row at the door
        self._more = False  # the last claim was full: more may be waiting
        self._behind: dict[str, int] = {}  # sender → rows stored here and not claimed yet
        self._sqlite = bool(getattr(db, "is_sqlite", False))
        self._turns = Turns(exclusive=self._sqlite)
        self._last_chat = float("-inf")  # the last store or answer, on the loop's clock

    def run_turns_in(self, turns: TurnProcesses) -> None:
        """Engine turns in processes of their own: this process only waits for them, so it
        keeps more rows in flight (two more a process) to keep those processes busy."""
        self.turns = turns
        self.in_flight = IN_FLIGHT + 2 * turns.size

    # -- storing (the ack path) ------------------------------------------------------------------

    async def store(self, item: inbox.Inbound) -> bool:
        """Write the request; True when new. Raises Unavailable: then the platform gets no
        200 and sends it again. With a hand free, the row is taken at the door (stored
        claimed by this worker) and its answer starts at once."""
        taker = self.name if self._hand_free(item.platform) else ""
        self._taking += bool(taker)

        def write() -> bool | inbox.Taken:
            with self._turns.take(first=True):
                return inbox.store(self.db.engine, item, taker)

        loop = asyncio.get_running_loop()
        self._last_chat = loop.time()
        try:
            new = await loop.run_in_executor(self._acks, write)
        finally:
            self._taking -= bool(taker)
        if isinstance(new, inbox.Taken):
            self._tasks.add(asyncio.ensure_future(self._process(new)))
        elif new:
            self._stored = True
            if len(self._behind) > 10_000:  # rows another replica claimed: a poll finds them
                self._behind.clear()
            self._behind[item.sender] = self._behind.get(item.sender, 0) + 1
            self._wake.set()
        return bool(new)

    def _hand_free(self, platform: str) -> bool:
        return (self._runner is not None and not self._stopping and platform in self.processors
                and len(self._tasks) + self._taking < self.in_flight)

    async def quiet(self, most: float) -> None:
        """Until this process has stored and answered nothing for QUIET_SECONDS, or `most`
        seconds: the scheduler's beat waits for a burst of chat to pass, acknowledgements and
        the answers behind them, so neither queues behind a tick over thousands of pairs (on
        SQLite it holds the one write lock)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + most
        while loop.time() < deadline:
            wait = QUIET_SECONDS if self._tasks else self._last_chat + QUIET_SECONDS - loop.time()
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, deadline - loop.time()))

    async def in_thread(self, function: Callable, *args):
        """Run blocking work of an answer (the engine, a database look-up) off the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._answers, function, *args)

    async def _in_turn(self, function: Callable, *args):
        """Like `in_thread`, for the engine's unit of work: on SQLite it takes its turn with
        the other writers of this process (see `_turns`)."""
        def run():
            with self._turns.take():
                return function(*args)

        return await self.in_thread(run)

    # -- draining --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._runner is None:
            self._stopping = False
            self._runner = asyncio.ensure_future(self._run())

    async def stop(self, grace: float = 10.0) -> None:
        """Claim nothing more; let the rows in flight finish (bounded); a row cut short is taken
        over by the next process after the claim timeout."""
        self._stopping = True
        self._wake.set()
        if self._runner is not None:
            await asyncio.wait({self._runner}, timeout=grace)
            self._runner = None
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace)
        self._acks.shutdown(wait=False)
        self._answers.shutdown(wait=False)
        if isinstance(self.turns, TurnProcesses):
            self.turns.close()

    async def _run(self) -> None:
        pause = self.poll
        while not self._stopping:
            self._wake.clear()
            free = self.in_flight - len(self._tasks) - self._taking
            if free <= 0:  # every slot busy: a finished row wakes this when a claim is due
                await self._nap(self.poll)
                continue
            stored, self._stored = self._stored, False
            try:
                rows = await self.in_thread(self._claim, free, stored)
                pause = self.poll
            except Exception as error:  # the database away: ask less often, up to 5 s
                if isinstance(error, Unavailable):
                    log.warning("database unavailable while draining the inbox")
                else:
                    log.exception("could not claim inbox rows")
                pause = min(pause * 2, OUTAGE_PAUSE)
                await self._nap(pause)
                continue
            self._more = len(rows) == free
            for row in rows:
                if (left := self._behind.pop(row.sender, 0) - 1) > 0:
                    self._behind[row.sender] = left
                self._tasks.add(asyncio.ensure_future(self._process(row)))
            if not self._more:
                await self._nap(self.poll)  # a store, a sender's next row, or the poll

    async def _nap(self, seconds: float) -> None:
        """Until woken (a store, a finished row, stop) or `seconds` have passed."""
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except TimeoutError:
            pass

    def _claim(self, limit: int, stored: bool = False) -> list[InboxItem]:
        """`stored`: this process has just stored a row, so there is something to claim (on
        SQLite an idle poll reads first, and takes the write lock only when there is)."""
        with self._turns.take():
            return self._claim_now(limit, stored)

    def _claim_now(self, limit: int, stored: bool) -> list[InboxItem]:
        now = self.wall()
        with self.db.unit() as session:
            moment = now.timestamp()
            if moment - self._last_takeover >= min(self.claim_timeout.total_seconds() / 4, 30):
                self._last_takeover = moment
                if taken := inbox.take_over(session, now, self.claim_timeout, self.max_attempts):
                    log.warning("took over %d inbox requests left by a stopped process", taken)
                inbox.purge_done(session, now - KEEP_DONE)
            served = list(self.processors)  # another replica may serve another platform
            # The read first is for SQLite's write lock; PostgreSQL claims straight away.
            if not stored and self._sqlite and not inbox.anything_to_claim(session, now, served):
                return []
            return inbox.claim(session, now, self.name, limit, served)

    async def _process(self, row: InboxItem) -> None:
        try:
            if await self._answer(row):
                await self._mark_done(row.id)
        finally:
            self._tasks.discard(asyncio.current_task())
            self._last_chat = asyncio.get_running_loop().time()
            if self._more or self._behind.get(row.sender):
                self._wake.set()  # a slot is free and more, or this sender's next, may wait

    async def _answer(self, row: InboxItem) -> bool:
        """True when answered (to be marked done); a failure is settled here."""
        processor = self.processors.get(row.platform)
        try:
            if processor is None:
                raise Failed(f"no {row.platform} adapter in this process")
            job = Job(row, self.turns, last_try=row.attempts >= self.max_attempts)
            await processor.process(job)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            reason = str(error) if isinstance(error, Failed) else \
                f"unexpected error ({type(error).__name__})"
            if not isinstance(error, Failed):
                log.exception("an inbox request failed")
            await self._settle(lambda s, now: self._retry(s, row, now, reason))
            return False
        if job.parked_because:
            log.error("inbox request %s parked after %d attempts: %s", row.id, row.attempts,
                      job.parked_because)
            await self._settle(lambda s, now: inbox.park(s, row.id, job.parked_because))
            return False
        return True

    async def _mark_done(self, row_id: int) -> None:
        """Answered rows are marked done together: one statement for all that finished while
        the last mark was being written (one at a time when the worker is not busy)."""
        done = asyncio.get_running_loop().create_future()
        self._done.append((row_id, done))
        if not self._marking:
            self._marking = True
            asyncio.ensure_future(self._write_done())
        await done

    async def _write_done(self) -> None:
        try:
            while self._done:
                batch, self._done = self._done, []
                ids = [row_id for row_id, _ in batch]
                try:
                    await self._settle(lambda s, now: inbox.done(s, ids, now))
                finally:
                    for _, done in batch:
                        done.set_result(None)
        finally:
            self._marking = False

    def _retry(self, session, row: InboxItem, now: datetime, reason: str) -> None:
        status = inbox.retry_or_park(session, row, now, reason, self.max_attempts)
        if status == "parked":
            log.error("inbox request %s parked after %d attempts: %s", row.id, row.attempts,
                      reason)

    async def _settle(self, write: Callable) -> None:
        def run() -> None:
            with self._turns.take(), self.db.unit() as session:
                write(session, self.wall())

        try:
            await self.in_thread(run)
        except Unavailable:  # the claim stays; it is taken over after the timeout
            log.warning("database unavailable while settling an inbox request")

    async def idle(self) -> None:
        """Until nothing this process could work on is left: no row pending (and ready), none
        claimed by this process (tests and benchmarks settle on the database, not on time)."""
        while True:
            if not self._tasks:
                pending = await self.in_thread(self._open)
                if pending == 0:
                    return
            self._wake.set()
            await asyncio.sleep(0.01)

    def _open(self) -> int:
        now = self.wall()
        with self.db.unit() as session:
            return inbox.ready_count(session, now, self.name, list(self.processors))

    def health(self) -> dict:
        with self.db.unit() as session:
            counts = inbox.counts(session)
            parked = inbox.parked(session, limit=5)
        return {"pending": counts.get("pending", 0), "claimed": counts.get("claimed", 0),
                "parked": counts.get("parked", 0),
                "parked_reasons": [{"id": p.id, "platform": p.platform, "kind": p.kind,
                                    "reason": p.last_error} for p in parked]}
