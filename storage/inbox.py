"""The inbox: store a verified inbound request, then claim, answer and settle it (storage layer).

Stored under the platform's own id (storing it again is a no-op), claimed by one worker in one
statement (FOR UPDATE SKIP LOCKED on PostgreSQL), only a sender's oldest open row at a time,
so one person's commands run in the order they arrived. Times here are the machine's wall
clock: a claim's age decides a takeover, whatever moment the engine's clock says it is.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from storage.tables import InboxItem

RETRY_DELAYS = (timedelta(seconds=1), timedelta(seconds=5), timedelta(seconds=30),
                timedelta(minutes=2))
OPEN = ("pending", "claimed")


@dataclass(frozen=True)
class Inbound:
    key: str
    platform: str
    kind: str
    sender: str
    body: str
    received_at: datetime


def store(session: Session, item: Inbound) -> bool:
    """Insert the request unless its key is already stored; True when it is new."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = InboxItem.__table__
    statement = insert(table).values(
        key=item.key[:200], platform=item.platform, kind=item.kind, sender=item.sender[:200],
        body=item.body, received_at=item.received_at, status="pending", attempts=0,
        claimed_by="", reply_json="", last_error="",
    ).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)
    return session.connection().execute(statement).first() is not None


def _exists(session: Session, *where) -> bool:
    return session.exec(select(InboxItem.id).where(*where).limit(1)).first() is not None


def anything_to_claim(session: Session, now: datetime,
                      platforms: Collection[str] | None = None) -> bool:
    """A read before any write: an idle worker never takes SQLite's write lock."""
    return _exists(session, InboxItem.status == "pending",
                   InboxItem.next_try_at.is_(None) | (InboxItem.next_try_at <= now),
                   *_of(platforms))


def _of(platforms: Collection[str] | None) -> list:
    return [] if platforms is None else [InboxItem.platform.in_(list(platforms))]


def claim(session: Session, now: datetime, worker: str, limit: int,
          platforms: Collection[str] | None = None) -> list[InboxItem]:
    """Mark up to `limit` rows as claimed by `worker` and return them, oldest first: each the
    oldest open row of its sender, so no two rows of one person are ever in flight. Only rows
    of `platforms` (those this process serves), when given."""
    earlier = aliased(InboxItem)
    before = (select(earlier.id).where(earlier.sender == InboxItem.sender,
                                       earlier.id < InboxItem.id, earlier.status.in_(OPEN))
              .exists())
    ready = (select(InboxItem.id)
             .where(InboxItem.status == "pending",
                    InboxItem.next_try_at.is_(None) | (InboxItem.next_try_at <= now), ~before,
                    *_of(platforms))
             .order_by(InboxItem.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        ready = ready.with_for_update(skip_locked=True)
    statement = (update(InboxItem).where(InboxItem.id.in_(ready.scalar_subquery()))
                 .values(status="claimed", claimed_at=now, claimed_by=worker[:80],
                         attempts=InboxItem.attempts + 1)
                 .returning(InboxItem))
    rows = list(session.execute(statement.execution_options(synchronize_session=False)).scalars())
    session.commit()
    return sorted(rows, key=lambda row: row.id)


def save_reply(session: Session, item_id: int, reply_json: str) -> None:
    """The engine's answer, written in the engine's own unit of work: a worker that dies after
    it commits leaves the answer for the next one to send, and the command is not run twice."""
    session.execute(update(InboxItem).where(InboxItem.id == item_id)
                    .values(reply_json=reply_json))


def done(session: Session, item_id: int, now: datetime) -> None:
    """Answered: the text and the reply are dropped, the key stays to recognise a retry."""
    session.execute(update(InboxItem).where(InboxItem.id == item_id)
                    .values(status="done", done_at=now, body="", reply_json="", last_error=""))


def retry_or_park(session: Session, row: InboxItem, now: datetime, reason: str,
                  max_attempts: int) -> str:
    """Try again after a pause, or park the row with its reason after `max_attempts`."""
    if row.attempts >= max_attempts:
        values = dict(status="parked", last_error=reason[:300], claimed_by="", body="")
    else:
        delay = RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS)) - 1]
        values = dict(status="pending", last_error=reason[:300], claimed_by="",
                      next_try_at=now + delay)
    session.execute(update(InboxItem).where(InboxItem.id == row.id).values(**values))
    return values["status"]


def take_over(session: Session, now: datetime, timeout: timedelta, max_attempts: int) -> int:
    """Claims older than `timeout` were left by a process that died: back to pending, or
    parked when the row has been claimed `max_attempts` times (it may be what kills them)."""
    stale = (InboxItem.status == "claimed") & (InboxItem.claimed_at < now - timeout)
    if not _exists(session, stale):
        return 0
    parked = session.execute(
        update(InboxItem).where(stale, InboxItem.attempts >= max_attempts)
        .values(status="parked", claimed_by="", body="",
                last_error=f"claimed {max_attempts} times and never finished")).rowcount or 0
    back = session.execute(update(InboxItem).where(stale).values(status="pending",
                                                                 claimed_by="")).rowcount or 0
    return parked + back


def ready_count(session: Session, now: datetime, worker: str,
                platforms: Collection[str] | None = None) -> int:
    """Rows `worker` could still work on: pending and due (of `platforms`), or claimed by it."""
    return session.exec(select(func.count()).select_from(InboxItem).where(
        ((InboxItem.status == "pending")
         & (InboxItem.next_try_at.is_(None) | (InboxItem.next_try_at <= now)) & _all(platforms))
        | ((InboxItem.status == "claimed") & (InboxItem.claimed_by == worker[:80])))).one()


def _all(platforms: Collection[str] | None):
    from sqlalchemy import true

    return true() if platforms is None else InboxItem.platform.in_(list(platforms))


def open_count(session: Session) -> int:
    """Rows not answered yet, by any process (pending or claimed)."""
    return session.exec(select(func.count()).select_from(InboxItem).where(
        InboxItem.status.in_(OPEN))).one()


def purge_done(session: Session, before: datetime) -> int:
    """Answered rows older than `before` go; a platform retries within minutes, not days."""
    from sqlalchemy import delete

    old = (InboxItem.status == "done") & (InboxItem.done_at < before)
    if not _exists(session, old):
        return 0
    return session.execute(delete(InboxItem).where(old)).rowcount or 0


def park(session: Session, item_id: int, reason: str) -> None:
    session.execute(update(InboxItem).where(InboxItem.id == item_id).values(
        status="parked", last_error=reason[:300], claimed_by="", body="", reply_json=""))


def parked(session: Session, limit: int = 20) -> list[InboxItem]:
    """Rows that kept failing, newest first, for the operator (no body: emptied when parked)."""
    return list(session.exec(select(InboxItem).where(InboxItem.status == "parked")
                             .order_by(InboxItem.id.desc()).limit(limit)))


def counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(InboxItem.status, func.count()).group_by(InboxItem.status))
    return {status: n for status, n in rows}
