"""The outbox worker: claim due rows, apply the delivery rules, compose, send, settle.

Delivery rules live here, in one place: staleness, snooze, opt-out, working hours, the weekly
cap (most important kept), one message per person per round (prompts due together merge).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from conversations.catalog import CAPPED, KINDS
from conversations.clock import Clock
from conversations.compose import DIALOG_KINDS, Context, PairFacts, Skip, compose, payload_of
from conversations.messages import Button, ConversationRef, Message, SentRef
from conversations.programme import Settings, SettingsInvalid
from conversations.texts import Texts
from conversations.working_hours import next_working_moment, relay_moment
from storage import outbox
from storage.db import Database, Unavailable
from storage.people import identities_of, manages, membership_in_pair
from storage.tables import Delivery, Pair, Person, Programme

log = logging.getLogger(__name__)
MERGE_SEPARATOR = "\n\n· · ·\n\n"
MAX_BUTTONS = 6
# How long a send's outcome is retried while the database is away (well under CLAIM_TIMEOUT,
# after which the row would be claimed again and a message already out sent a second time).
SETTLE_PATIENCE = 300.0


# Where a message can reach a person: a stored conversation reference, one per platform.
Address = ConversationRef


@dataclass(frozen=True)
class Recipient:
    person_id: int
    email: str
    name: str
    addresses: tuple[Address, ...]  # most recently used first
    # The delivery keys of the rows this message carries: a platform that can store them with
    # the post (Slack message metadata) does, so an unsure attempt can be looked up later.
    keys: tuple[str, ...] = ()


class DeliveryFailed(Exception):
    """The platform refused; `permanent` errors are not retried (user_not_found, ...).

    `ambiguous`: the message may have been taken all the same (a timeout or a connection lost
    after the request went out, a 5xx without a definite "not posted")."""

    def __init__(self, reason: str, *, permanent: bool = False, ambiguous: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.ambiguous = ambiguous


class Messenger(Protocol):
    async def send(self, recipient: Recipient, message: Message) -> SentRef: ...


class ReadsBack(Protocol):
    """A messenger that can tell which of these delivery keys reached the person since then."""

    async def find_sent(self, recipient: Recipient, keys: tuple[str, ...],
                        since: datetime) -> dict[str, SentRef]: ...


@dataclass(frozen=True)
class Planned:
    """One delivery row in a batch: what it says, and whether an earlier try may be out."""
    id: int
    key: str
    text: str
    message: Message
    claimed_at: datetime | None = None
    unsure_since: datetime | None = None


@dataclass
class Batch:
    recipient: Recipient
    message: Message
    rows: list[Planned]

    def without(self, keys: set[str]) -> Batch | None:
        rows = [row for row in self.rows if row.key not in keys]
        if not rows:
            return None
        return Batch(replace(self.recipient, keys=tuple(row.key for row in rows)),
                     merge([row.message for row in rows]), rows)


@dataclass
class RoundResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    postponed: int = 0
    skipped: Counter = field(default_factory=Counter)


class Dispatcher:
    """Delivers what is due. The next batch is claimed and composed while the current one is
    being sent; sends go out as fast as the messenger's pacing lets them (up to `in_flight` at
    once, one at a time per person), and their "sent" marks are committed in small groups."""

    def __init__(self, db: Database, clock: Clock, texts: Texts, messenger: Messenger,
                 worker: str = "worker", batch_size: int = 200, organizer: str = "",
                 in_flight: int = 16) -> None:
        self.db, self.clock, self.texts = db, clock, texts
        self.organizer = organizer
        self.messenger = messenger
        self.worker = worker
        self.batch_size = batch_size
        self.in_flight = in_flight
        self._recorder = Recorder(lambda items: self._settle(self._settle_sent, items))
        self._attempts = Attempts(lambda ids: self._settle(self._mark_attempt, ids))
        # SQLite takes one writer at a time, and a transaction that read before another one
        # committed cannot write at all ("database is locked", at once): the outbox's own
        # writers (preparing in one thread, recording in others) take turns.
        self._writing = (threading.Lock() if getattr(db, "is_sqlite", True)
                         else contextlib.nullcontext())

    async def run_once(self) -> RoundResult:
        """One round: everything due now is sent, postponed, skipped or scheduled for retry."""
        result = RoundResult()
        sending = Sending(self.in_flight)
        try:
            more = True
            prepared = asyncio.ensure_future(asyncio.to_thread(self._prepare, result))
            while more:
                batches, more = await prepared
                if more:  # claim and compose the next batch while this one goes out
                    prepared = asyncio.ensure_future(asyncio.to_thread(self._prepare, result))
                for batch in batches:
                    await sending.start(batch.recipient.person_id, self._send, batch, result)
        finally:
            try:
                await sending.wait()
            finally:
                await self._recorder.close()
        return result

    def _prepare(self, result: RoundResult) -> tuple[list[Batch], bool]:
        now = self.clock.now()
        with self._writing, self.db.unit() as session:
            outbox.requeue_stuck(session, now)
        with self._writing, self.db.unit() as session:
            rows = outbox.claim_due(session, now, self.worker, self.batch_size)
        by_person: dict[int, list[Delivery]] = defaultdict(list)
        for row in rows:
            by_person[row.person_id].append(row)
        batches = []
        # One session for the batch, whose identity map keeps what people share (loaded at
        # once, held here: the map itself is weak); a transaction per person, as before, so
        # one's trouble stays theirs and no write waits behind a long transaction.
        with self.db.unit() as session:
            shared = outbox.preload(session, rows)
            known = outbox.identities_by_person(session, list(by_person))
            members, held = outbox.pair_facts(session, [r.pair_id for r in rows if r.pair_id])
            pairs = PairFacts(members, held)
            membership = {(pid, p.id): Member(role) for pid, people in members.items()
                          for p, role in people}
            session.commit()
            for person_id, person_rows in by_person.items():
                try:
                    with self._writing:
                        try:
                            batch = self._plan(session, person_id, person_rows, now, result,
                                               known.get(person_id), pairs,
                                               {r.pair_id: membership.get((r.pair_id, person_id))
                                                for r in person_rows if r.pair_id})
                            session.commit()
                        except BaseException:
                            session.rollback()
                            raise
                except Unavailable:
                    raise
                except Exception as error:  # their rows stay claimed, come back after a while
                    log.error("preparing deliveries %s failed: %s",
                              [row.id for row in person_rows], type(error).__name__)
                    result.failed += len(person_rows)
                    continue
                if batch is not None:
                    batches.append(batch)
            del shared
        return batches, len(rows) == self.batch_size

    def _plan(self, session, person_id: int, rows: list[Delivery], now: datetime,
              result: RoundResult, identities: list | None = None,
              pairs: PairFacts | None = None, members: dict | None = None) -> Batch | None:
        person = session.get(Person, person_id)
        sendable = []
        # pair id -> this person's membership (read once; what the batch loaded, if it did)
        members = {pid: m if m is not None and _active(session, pid) else None
                   for pid, m in (members or {}).items()}
        for row in sorted(rows, key=lambda r: (r.priority, r.due_at, r.id)):
            try:
                reason, later = self._hold(session, person, row, now, members)
            except Exception as error:  # e.g. its programme's stored settings are broken
                self._set_aside(session, row, now, error, result)
                continue
            if reason and later is None:
                outbox.skip(session, row.id, reason)
                result.skipped[reason] += 1
            elif later is not None:
                outbox.postpone(session, row.id, later, reason)
                result.postponed += 1
            else:
                sendable.append(row)
        sendable = self._apply_cap(session, person, sendable, now, result)
        composed: list[tuple[Delivery, Message]] = []
        dialog_started = False
        for row in sendable:
            if row.kind in DIALOG_KINDS and dialog_started:
                outbox.postpone(session, row.id, now + timedelta(days=1), "one question at a time")
                result.postponed += 1
                continue
            ctx = self._context(session, row, person, now, members, pairs)
            try:
                with session.begin_nested():
                    message = compose(ctx)
            except Skip as skip:
                outbox.skip(session, row.id, str(skip))
                result.skipped[str(skip)] += 1
                continue
            except Exception as error:  # a bug must not stop everyone else's prompts
                self._set_aside(session, row, now, error, result, permanent=True)
                continue
            dialog_started = dialog_started or ctx.asked
            composed.append((row, message))
        if not composed:
            return None
        recipient = Recipient(person.id, person.email, person.name, tuple(
            Address(i.platform, i.user_id, tenant_id=i.tenant_id,
                    conversation_id=i.conversation_id, service_url=i.service_url)
            for i in (identities if identities is not None
                      else identities_of(session, person.id))))
        recipient = replace(recipient, keys=tuple(row.key for row, _ in composed))
        return Batch(recipient, merge([m for _, m in composed]),
                     [Planned(row.id, row.key, m.text, m, row.claimed_at, row.unsure_since)
                      for row, m in composed])

    @staticmethod
    def _set_aside(session, row: Delivery, now: datetime, error: Exception,
                   result: RoundResult, *, permanent: bool = False) -> None:
        """One row's trouble is logged by its ids and the error's type (never a message text,
        which may quote what someone wrote) and retried later with back-off, or given up
        when it cannot get better; everyone else's prompts go on."""
        reason = str(error) if isinstance(error, SettingsInvalid) else type(error).__name__
        log.error("delivery %s (%s, pair %s) set aside: %s", row.id, row.kind, row.pair_id,
                  reason)
        outbox.mark_retry(session, row, now, f"internal: {reason}", permanent=permanent)
        result.failed += 1

    def _hold(self, session, person: Person, row: Delivery, now: datetime,
              members: dict | None = None) -> tuple[str, datetime | None]:
        """('', None) to send now; (reason, None) to skip; (reason, later) to postpone."""
        kind = KINDS.get(row.kind)
        if kind is None:
            return "unknown kind", None
        if row.stale_after and now > row.stale_after:
            meeting = meeting_of(row)
            if meeting is not None and meeting <= now and row.kind in PREPARING:
                return "the meeting has started", None
            if meeting is not None and meeting <= now and row.kind == "announcement":
                return "the event has started", None
            return "stale: due while the service was away", None
        if row.pair_id is not None and \
                _membership(session, person.id, row.pair_id, members) is None:
            return "no longer in the programme", None
        if row.pair_id is None and not manages(session, person.id, row.programme_id):
            return "no longer in the programme", None  # a manager's prompt; they left
        if kind.transactional:
            return "", None
        settings = Settings.of(session.get(Programme, row.programme_id))
        if kind.relayed:
            moment = relay_moment(now, person.timezone, settings, meeting_of(row))
            return ("", None) if moment == now else ("outside working hours", moment)
        if row.optional and person.optional_opt_out:
            return "opted out of optional prompts", None
        if person.snoozed_until and person.snoozed_until > now:
            later = next_working_moment(person.snoozed_until, person.timezone, settings)
            return ("snoozed", later) if later < row.stale_after else ("snoozed", None)
        working = next_working_moment(now, person.timezone, settings)
        if working != now:
            return ("outside working hours", working) if working < row.stale_after \
                else ("stale: no working hours before it expired", None)
        return "", None

    def _apply_cap(self, session, person: Person, rows: list[Delivery], now: datetime,
                   result: RoundResult) -> list[Delivery]:
        capped = [r for r in rows if r.kind in CAPPED]
        if not capped:
            return rows
        cap = min(Settings.of(session.get(Programme, r.programme_id)).weekly_cap for r in capped)
        used = outbox.sent_count_since(session, person.id, now - timedelta(days=7), CAPPED)
        room = max(cap - used, 0)
        kept = set(r.id for r in capped[:room])  # rows arrive sorted by priority
        for row in capped[room:]:
            later = now + timedelta(days=1)
            if later < row.stale_after:
                outbox.postpone(session, row.id, later, "weekly cap")
                result.postponed += 1
            else:
                outbox.skip(session, row.id, "weekly cap")
                result.skipped["weekly cap"] += 1
        return [r for r in rows if r.kind not in CAPPED or r.id in kept]

    def _context(self, session, row: Delivery, person: Person, now: datetime,
                 members: dict | None = None, pairs: PairFacts | None = None) -> Context:
        pair = session.get(Pair, row.pair_id) if row.pair_id else None
        role = "manager"
        if pair is not None:
            membership = _membership(session, person.id, pair.id, members)
            role = membership.role if membership else "mentee"
        return Context(session, row, person, session.get(Programme, row.programme_id), pair,
                       role, now, self.texts, payload_of(row), organizer=self.organizer,
                       known=pairs)

    async def _send(self, batch: Batch, result: RoundResult) -> None:
        batch = await self._read_back(batch, result)
        if batch is None:
            return
        try:
            await self._attempts.mark([row.id for row in batch.rows])
        except Exception as error:  # not posted: the claim runs out and it goes out later
            log.warning("recording an attempt to person %s failed: %s; not sent now",
                        batch.recipient.person_id, type(error).__name__)
            result.retried += len(batch.rows)
            return
        try:
            sent = await self.messenger.send(batch.recipient, batch.message)
        except DeliveryFailed as failure:
            await self._settle(self._settle_failure, batch, failure, result)
            return
        except Exception as error:  # a bug or network fault: retry later, never lose the row
            log.warning("delivery to person %s failed: %s", batch.recipient.person_id,
                        type(error).__name__)
            await self._settle(self._settle_failure, batch,
                               DeliveryFailed(type(error).__name__, ambiguous=True), result)
            return
        self._recorder.add([(row, sent) for row in batch.rows])
        result.sent += len(batch.rows)

    async def _read_back(self, batch: Batch, result: RoundResult) -> Batch | None:
        """After an ambiguous attempt, and only then, ask the platform (where it can tell)
        whether the message is already there: found rows are settled as sent, not posted again;
        the rest of the batch goes on."""
        unsure = [row for row in batch.rows if row.unsure_since is not None]
        find = getattr(self.messenger, "find_sent", None)
        if not unsure or find is None:
            return batch
        since = min(row.unsure_since for row in unsure)
        try:
            found = await find(batch.recipient, tuple(row.key for row in unsure), since)
        except DeliveryFailed as failure:
            await self._settle(self._settle_failure, batch, failure, result)
            return None
        except Exception as error:
            log.warning("reading back deliveries to person %s failed: %s",
                        batch.recipient.person_id, type(error).__name__)
            await self._settle(self._settle_failure, batch,
                               DeliveryFailed(type(error).__name__), result)
            return None
        there = [row for row in batch.rows if row.key in found]
        if there:
            log.info("deliveries %s were already posted; settled as sent",
                     [row.id for row in there])
            self._recorder.add([(row, found[row.key]) for row in there])
            result.sent += len(there)
        return batch.without(set(found)) if there else batch

    async def _settle(self, settle, *args) -> None:
        """Record a send's outcome. The message is already out (or not): if the database went
        away meanwhile, keep trying for a while rather than leave the row claimed, to be
        claimed again and sent a second time when the claim times out."""
        waited, pause = 0.0, 0.5
        while True:
            try:
                await asyncio.to_thread(settle, *args)
                return
            except Unavailable:
                if waited >= SETTLE_PATIENCE:
                    raise
                log.warning("database unavailable while recording a delivery; retrying")
                await asyncio.sleep(pause)
                waited, pause = waited + pause, min(pause * 2, 10.0)

    def _mark_attempt(self, ids: list[int]) -> None:
        now = self.clock.now()
        with self._writing:
            outbox.mark_attempt(self.db, ids, now)

    def _settle_sent(self, items: list[tuple[Planned, SentRef]]) -> None:
        now = self.clock.now()
        with self._writing, self.db.unit() as session:
            outbox.mark_sent_many(session, [
                {"id": row.id, "platform": sent.platform, "platform_ref": sent.message_id,
                 "text": row.text} for row, sent in items], now)

    def _settle_failure(self, batch: Batch, failure: DeliveryFailed, result: RoundResult) -> None:
        now = self.clock.now()
        with self._writing, self.db.unit() as session:
            for planned in batch.rows:
                row = session.get(Delivery, planned.id)
                unsure = (planned.claimed_at or now) if failure.ambiguous else None
                status = outbox.mark_retry(session, row, now, failure.reason,
                                           permanent=failure.permanent, unsure_since=unsure)
                if status == "failed":
                    result.failed += 1
                else:
                    result.retried += 1


@dataclass(frozen=True)
class Member:
    """A person's active membership of a pair, as the batch loaded it (its role)."""
    role: str


def _active(session, pair_id: int) -> bool:
    pair = session.get(Pair, pair_id)  # loaded with the batch
    return pair is not None and pair.active


def _membership(session, person_id: int, pair_id: int, members: dict | None):
    if members is None:
        return membership_in_pair(session, person_id, pair_id)
    if pair_id not in members:
        members[pair_id] = membership_in_pair(session, person_id, pair_id)
    return members[pair_id]


class Sending:
    """Sends in flight: at most `limit` at once, and one at a time per person, in order."""

    def __init__(self, limit: int) -> None:
        self._room = asyncio.Semaphore(max(limit, 1))
        self._tasks: set[asyncio.Task] = set()
        self._last: dict[int, asyncio.Task] = {}
        self._errors: list[BaseException] = []

    async def start(self, person_id: int, send, *args) -> None:
        await self._room.acquire()
        task = asyncio.create_task(self._run(self._last.get(person_id), send, args))
        self._last[person_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _run(self, before: asyncio.Task | None, send, args) -> None:
        try:
            if before is not None and not before.done():
                await asyncio.wait([before])
            await send(*args)
        finally:
            self._room.release()

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._errors.append(task.exception())

    async def wait(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))
        self._last.clear()
        if self._errors:
            error, self._errors = self._errors[0], []
            raise error


class Attempts:
    """"About to post" marks, each committed before its post goes out (so a claim that a dead
    process leaves behind is read back only if its post may really be out); the sends that
    start within `delay` of each other, or while a commit runs, share one. The delay is hidden
    behind the pacer's queue of sends in flight."""

    def __init__(self, commit, delay: float = 0.01) -> None:
        self.commit, self.delay = commit, delay
        self._ids: list[int] = []
        self._done: asyncio.Future | None = None
        self._flusher: asyncio.Task | None = None

    async def mark(self, ids: list[int]) -> None:
        if self._done is None:
            self._done = asyncio.get_running_loop().create_future()
        done = self._done
        self._ids.extend(ids)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        await asyncio.shield(done)

    async def _flush(self) -> None:
        await asyncio.sleep(self.delay)  # the sends starting meanwhile share the commit
        while self._ids:
            ids, done, self._ids, self._done = self._ids, self._done, [], None
            try:
                await self.commit(ids)
            except Exception as error:
                done.set_exception(error)
            else:
                done.set_result(None)


class Recorder:
    """"Sent" marks, committed in small groups rather than one commit per post.

    A mark not yet committed when the process dies leaves its row claimed: it comes back after
    the claim timeout as unsure (storage/outbox.requeue_stuck), and the next attempt reads
    back first where the platform allows it. So grouping costs no exactly-once; the group is
    kept small (`delay`) to keep that window short."""

    def __init__(self, commit, delay: float = 0.02) -> None:
        self.commit, self.delay = commit, delay
        self._pending: list = []
        self._flusher: asyncio.Task | None = None

    def add(self, items: list) -> None:
        self._pending.extend(items)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.delay)
        while self._pending:
            items, self._pending = self._pending, []
            await self.commit(items)

    async def close(self) -> None:
        """Everything added so far is committed (or the error that stopped it is raised)."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            await flusher
        if self._pending:
            items, self._pending = self._pending, []
            await self.commit(items)


PREPARING = ("agenda_reminder", "meeting_reminder")


def meeting_of(row: Delivery) -> datetime | None:
    """The start of the meeting a row is about, when its payload names one."""
    at = payload_of(row).get("at")
    try:
        return datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        return None


def merge(messages: list[Message]) -> Message:
    """Prompts due together for one person become one message, not a burst."""
    if len(messages) == 1:
        return messages[0]
    buttons: list[Button] = []
    for message in messages:
        for button in message.buttons:
            if button not in buttons and len(buttons) < MAX_BUTTONS:
                buttons.append(button)
    attachments = [m.attachment for m in messages if m.attachment is not None]
    return Message(MERGE_SEPARATOR.join(m.text for m in messages), buttons=tuple(buttons),
                   ephemeral=False, attachment=attachments[-1] if attachments else None)
