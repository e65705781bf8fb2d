"""The outbox worker: claim due rows, apply the delivery rules, compose, send, settle.

Delivery rules live here, in one place: staleness, snooze, opt-out, working hours, the weekly
cap (most important kept), one message per person per round (prompts due together merge).
"""
from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from conversations.catalog import CAPPED, KINDS
from conversations.clock import Clock
from conversations.compose import DIALOG_KINDS, Context, Skip, compose, payload_of
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


class DeliveryFailed(Exception):
    """The platform refused; `permanent` errors are not retried (user_not_found, ...)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Messenger(Protocol):
    async def send(self, recipient: Recipient, message: Message) -> SentRef: ...


@dataclass
class Batch:
    recipient: Recipient
    message: Message
    rows: list[tuple[int, str]]  # (delivery id, its own text)


@dataclass
class RoundResult:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    postponed: int = 0
    skipped: Counter = field(default_factory=Counter)


class Dispatcher:
    def __init__(self, db: Database, clock: Clock, texts: Texts, messenger: Messenger,
                 worker: str = "worker", batch_size: int = 500, organizer: str = "") -> None:
        self.db, self.clock, self.texts = db, clock, texts
        self.organizer = organizer
        self.messenger = messenger
        self.worker = worker
        self.batch_size = batch_size

    async def run_once(self) -> RoundResult:
        """One round: everything due now is sent, postponed, skipped or scheduled for retry."""
        result = RoundResult()
        while True:
            batches, more = await asyncio.to_thread(self._prepare, result)
            for batch in batches:
                await self._send(batch, result)
            if not more:
                return result

    def _prepare(self, result: RoundResult) -> tuple[list[Batch], bool]:
        now = self.clock.now()
        with self.db.unit() as session:
            outbox.requeue_stuck(session, now)
        with self.db.unit() as session:
            rows = outbox.claim_due(session, now, self.worker, self.batch_size)
        by_person: dict[int, list[Delivery]] = defaultdict(list)
        for row in rows:
            by_person[row.person_id].append(row)
        batches = []
        for person_id, person_rows in by_person.items():
            try:
                with self.db.unit() as session:
                    batch = self._plan(session, person_id, person_rows, now, result)
            except Unavailable:
                raise
            except Exception as error:  # their rows stay claimed and come back after a while
                log.error("preparing deliveries %s failed: %s",
                          [row.id for row in person_rows], type(error).__name__)
                result.failed += len(person_rows)
                continue
            if batch is not None:
                batches.append(batch)
        return batches, len(rows) == self.batch_size

    def _plan(self, session, person_id: int, rows: list[Delivery], now: datetime,
              result: RoundResult) -> Batch | None:
        person = session.get(Person, person_id)
        sendable = []
        for row in sorted(rows, key=lambda r: (r.priority, r.due_at, r.id)):
            try:
                reason, later = self._hold(session, person, row, now)
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
            ctx = self._context(session, row, person, now)
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
            for i in identities_of(session, person.id)))
        return Batch(recipient, merge([m for _, m in composed]),
                     [(row.id, m.text) for row, m in composed])

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

    def _hold(self, session, person: Person, row: Delivery, now: datetime
              ) -> tuple[str, datetime | None]:
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
        if row.pair_id is not None and membership_in_pair(session, person.id, row.pair_id) is None:
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

    def _context(self, session, row: Delivery, person: Person, now: datetime) -> Context:
        pair = session.get(Pair, row.pair_id) if row.pair_id else None
        role = "manager"
        if pair is not None:
            membership = membership_in_pair(session, person.id, pair.id)
            role = membership.role if membership else "mentee"
        return Context(session, row, person, session.get(Programme, row.programme_id), pair,
                       role, now, self.texts, payload_of(row), organizer=self.organizer)

    async def _send(self, batch: Batch, result: RoundResult) -> None:
        try:
            sent = await self.messenger.send(batch.recipient, batch.message)
        except DeliveryFailed as failure:
            await self._settle(self._settle_failure, batch, failure, result)
            return
        except Exception as error:  # a bug or network fault: retry later, never lose the row
            log.warning("delivery to person %s failed: %s", batch.recipient.person_id,
                        type(error).__name__)
            await self._settle(self._settle_failure, batch,
                               DeliveryFailed(type(error).__name__), result)
            return
        await self._settle(self._settle_sent, batch, sent)
        result.sent += len(batch.rows)

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

    def _settle_sent(self, batch: Batch, sent: SentRef) -> None:
        now = self.clock.now()
        with self.db.unit() as session:
            for delivery_id, text in batch.rows:
                outbox.mark_sent(session, delivery_id, now, platform=sent.platform,
                                 platform_ref=sent.message_id, text=text)

    def _settle_failure(self, batch: Batch, failure: DeliveryFailed, result: RoundResult) -> None:
        now = self.clock.now()
        with self.db.unit() as session:
            for delivery_id, _ in batch.rows:
                row = session.get(Delivery, delivery_id)
                status = outbox.mark_retry(session, row, now, failure.reason,
                                           permanent=failure.permanent)
                if status == "failed":
                    result.failed += 1
                else:
                    result.retried += 1


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
