"""Accounting for the fault tests: which outbox rows each send carried, and what came of them.

In-process, `Ledger` wraps the dispatcher's send step (one batch of rows for one person; the
dispatcher sends several batches at once, but one at a time per person), so every message that
reached that person's conversation at the fake platform during that step belongs to those rows.
A row is then

    delivered    sent, and seen at the platform exactly once, or more often only because of an
                 ambiguous failure: the platform took the message but its answer never came
                 back (a timeout or a dropped connection "after", or an answer ready only after
                 the bot had given up), so the bot tried again. The bot counts every such
                 attempt itself (Delivery.ambiguous): `ambiguous` rows are those with at least
                 one, and every extra copy must be both caused by such a failure at the fake and
                 counted by the bot; any other extra copy is unexplained, and a bug.
    failed       failed, with the reason, after its last try (or at once when permanent)
    skipped      skipped, with the reason
    lost         anything else: still pending or claimed, failed or skipped without a reason,
                 or "sent" without ever reaching the platform.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlmodel import select

from storage.outbox import RETRY_DELAYS
from storage.tables import Delivery

TERMINAL = ("sent", "failed", "skipped")


@dataclass
class Account:
    expected: int = 0
    delivered: int = 0
    duplicated: int = 0
    ambiguous: int = 0
    lost: int = 0
    failed: int = 0
    skipped: int = 0
    unexplained: list[str] = field(default_factory=list)  # duplicates no failure explains
    lost_rows: list[str] = field(default_factory=list)
    arrived_unrecorded: int = 0  # reached the platform ambiguously, then failed/skipped
    early: list[str] = field(default_factory=list)  # failed before the last try, not permanent
    reasons: Counter = field(default_factory=Counter)
    why: Counter = field(default_factory=Counter)  # what lost the answers of duplicated rows

    def figures(self) -> dict[str, int]:
        return dict(expected=self.expected, delivered=self.delivered,
                    duplicated=self.duplicated, ambiguous=self.ambiguous, lost=self.lost,
                    failed=self.failed, skipped=self.skipped)


def settle(rows: list[Delivery], posts: Callable[[Delivery], tuple[int, int]],
           permanent: tuple[str, ...] = (),
           why: Callable[[Delivery], Counter] = lambda row: Counter()) -> Account:
    """Classify every row; `posts(row)` = (copies seen at the platform, of them ambiguous).

    A failure must come after the last try (RETRY_DELAYS), unless its reason is `permanent`."""
    account = Account(expected=len(rows))
    for row in rows:
        seen, ambiguous = posts(row)
        label = f"#{row.id} {row.kind} to person {row.person_id}"
        if row.ambiguous:
            account.ambiguous += 1
        if row.status not in TERMINAL:
            account.lost += 1
            account.lost_rows.append(f"{label}: still {row.status} ({row.last_error})")
            continue
        if row.status != "sent":
            if not row.last_error:
                account.lost += 1
                account.lost_rows.append(f"{label}: {row.status} without a reason")
                continue
            setattr(account, row.status, getattr(account, row.status) + 1)
            account.reasons[f"{row.status}: {_reason(row.last_error)}"] += 1
            if row.status == "failed" and row.attempts <= len(RETRY_DELAYS) \
                    and not row.last_error.startswith(permanent or ("\0",)):
                account.early.append(f"{label}: failed after {row.attempts} tries: "
                                     f"{row.last_error}")
            if seen:
                account.arrived_unrecorded += 1
                if seen > ambiguous:
                    account.unexplained.append(f"{label}: {row.status} but posted {seen}×")
            continue
        if seen == 0:
            account.lost += 1
            account.lost_rows.append(f"{label}: marked sent, never reached the platform")
            continue
        account.delivered += 1
        if seen > 1:
            account.duplicated += 1
            account.why.update(why(row))
            if seen - 1 > ambiguous:
                account.why["answer slower than the client's timeout"] += seen - 1 - ambiguous
            if seen - 1 > row.ambiguous:
                account.unexplained.append(f"{label}: posted {seen}×, the bot counted "
                                           f"{row.ambiguous} ambiguous attempts")
    return account


def _reason(error: str) -> str:
    return error.split(":")[0].split(" (")[0][:40]


class Ledger:
    """Which rows each send of the dispatcher carried and which platform calls it made.

    `calls()` lists the fake platform's calls so far; `effective(call)` says whether a call
    put a message in front of someone; `ambiguous(call)` whether its answer was lost.
    """

    def __init__(self, dispatcher, calls: Callable[[], list], effective: Callable,
                 ambiguous: Callable, owner: Callable = lambda call: "",
                 owner_of: Callable = lambda batch: "") -> None:
        self.calls, self.effective, self.ambiguous = calls, effective, ambiguous
        self.copies: dict[int, int] = defaultdict(int)
        self.unsure: dict[int, int] = defaultdict(int)
        self.kinds: dict[int, Counter] = defaultdict(Counter)
        self.message: dict[int, object] = {}
        self.sends = self.traced = 0
        self.base = len(calls())
        send = dispatcher._send  # observed, not changed: the real send runs

        async def traced(batch, result) -> None:
            start = len(self.calls())
            try:
                await send(batch, result)
            finally:
                mine = owner_of(batch)  # other people's sends run meanwhile
                made = [c for c in self.calls()[start:] if self.effective(c)
                        and owner(c) == mine]
                self.sends += 1
                self.traced += len(made)
                for row in batch.rows:
                    self.copies[row.id] += len(made)
                    unsure = [c.chaos for c in made if self.ambiguous(c)]
                    self.unsure[row.id] += len(unsure)
                    self.kinds[row.id].update(unsure)
                    self.message[row.id] = batch.message

        dispatcher._send = traced

    def account(self, db, where=(), permanent: tuple[str, ...] = ()) -> Account:
        with db.unit() as session:
            rows = list(session.exec(select(Delivery).where(*where).order_by(Delivery.id)))
        return settle(rows, lambda row: (self.copies[row.id], self.unsure[row.id]), permanent,
                      lambda row: self.kinds[row.id])

    def stray(self) -> int:
        """Messages that reached the platform since the ledger started, outside any send of the
        dispatcher (the tests send no chat meanwhile, so there should be none)."""
        return sum(1 for c in self.calls()[self.base:] if self.effective(c)) - self.traced
