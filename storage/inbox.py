"""The inbox: store a verified inbound request, then claim, answer and settle it (storage layer).

Stored under the platform's own id (storing it again is a no-op), claimed by one worker in one
statement (FOR UPDATE SKIP LOCKED on PostgreSQL), only a sender's oldest open row at a time,
so one person's commands run in the order they arrived. A worker with a free hand takes a
request at the door: stored already claimed by it, in the store's own statement, when its
sender has nothing open. At most one claimed row per sender, whoever claims it: a unique
index says so when two stores or a store and a claim meet. Times here are the machine's wall
clock: a claim's age decides a takeover, whatever moment the engine's clock says it is.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from hashlib import sha256

from sqlalchemy import Boolean, Connection, Engine, Row, bindparam, case, func, or_, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from storage.tables import Identity, InboxItem

RETRY_DELAYS = (timedelta(seconds=1), timedelta(seconds=5), timedelta(seconds=30),
                timedelta(minutes=2))
OPEN = ("pending", "claimed")
CLOSED = ("done", "parked")


@dataclass(frozen=True)
class Inbound:
    key: str
    platform: str
    kind: str
    sender: str
    body: str
    received_at: datetime


_TABLE = InboxItem.__table__
_C = _TABLE.c
_DUE = _C.next_try_at.is_(None) | (_C.next_try_at <= bindparam("now"))
_PLATFORMS = _C.platform.in_(bindparam("platforms", expanding=True))
# The statements of the chat path are built once (building one costs more than running it).
# Closed rows keep nothing of the person: not what they wrote, nor who they are.
_DONE = (update(_TABLE).where(_C.id.in_(bindparam("ids", expanding=True)))
         .values(status="done", done_at=bindparam("at"), sender="", body="", reply_json="",
                 last_error=""))
_PARKED = dict(status="parked", claimed_by="", sender="", body="", reply_json="")
_SAVE_REPLY = update(_TABLE).where(_C.id == bindparam("item")).values(
    reply_json=bindparam("reply"))


@dataclass(frozen=True)
class Taken(Inbound):
    """A request stored already claimed by the worker that stored it (see `store`): what a
    claim would have returned, with the same attribute names (`key` is the stored digest)."""

    id: int = 0
    known: bool = False  # whether the sender is matched to a person already (see `claim`)
    attempts: int = 1
    reply_json: str = ""


@cache
def _store_statement(dialect: str):
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    other = _TABLE.alias("other")
    sender_idle = ~sa_select(other.c.id).where(other.c.sender == bindparam("s"),
                                               other.c.status.not_in(CLOSED)).exists()
    take = bindparam("take", type_=Boolean) & sender_idle

    def taken(yes, no):
        return case((take, yes), else_=no)

    identity = Identity.__table__
    known = sa_select(identity.c.id).where(identity.c.platform == bindparam("p"),
                                           identity.c.user_id == bindparam("u")).exists()
    return insert(_TABLE).values(
        key=bindparam("k"), platform=bindparam("p"), kind=bindparam("kd"),
        sender=bindparam("s"), body=bindparam("b"), received_at=bindparam("r"),
        status=taken("claimed", "pending"), attempts=taken(1, 0),
        claimed_at=taken(bindparam("r"), None), claimed_by=taken(bindparam("w"), ""),
        reply_json="", last_error="",
    ).on_conflict_do_nothing(index_elements=["key"]).returning(
        _C.id, _C.status, known.label("known"))


def key_of(platform_key: str) -> str:
    """What the inbox stores of a platform's request id: a digest, the same for a retry, that
    names nobody (a Slack button press's id carries the user's id)."""
    return sha256(platform_key.encode("utf-8", "surrogatepass")).hexdigest()


def store(engine: Engine, item: Inbound, taker: str = "") -> bool | Taken:
    """Insert the request unless its key is already stored, committed when this returns (the
    ack path): False when it was stored before, else True, or a `Taken` when `taker` (a
    worker with a free hand) got it at the door: its sender had nothing open, so the row is
    stored claimed by `taker` (saving a claim's statement and commit). On PostgreSQL one
    statement that commits itself (autocommit): one round trip where a transaction takes
    three. SQLite keeps its transaction (its locking under concurrent writers is what the
    rest of the program is tested with)."""
    try:
        return _store(engine, item, taker)
    except IntegrityError:
        if not taker:
            raise
        # Another row of this sender was taken or claimed at the same moment (the unique
        # index of claimed senders): this one waits its turn, pending.
        return _store(engine, item, "")


def _store(engine: Engine, item: Inbound, taker: str) -> bool | Taken:
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            return _insert(connection, item, taker)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return _insert(connection, item, taker)


def _insert(connection: Connection, item: Inbound, taker: str) -> bool | Taken:
    statement = _store_statement(connection.dialect.name)
    key, sender = key_of(item.key), item.sender[:200]
    row = connection.execute(statement, {
        "k": key, "p": item.platform, "kd": item.kind, "s": sender,
        "b": item.body, "r": item.received_at, "take": bool(taker), "w": taker[:80],
        "u": sender.removeprefix(f"{item.platform}:")}).first()
    if row is None:
        return False
    if row.status != "claimed":
        return True
    return Taken(key, item.platform, item.kind, sender, item.body, item.received_at,
                 id=row.id, known=bool(row.known))


def _exists(session: Session, *where) -> bool:
    return session.exec(select(InboxItem.id).where(*where).limit(1)).first() is not None


@cache
def _anything_statement(of_platforms: bool):
    where = [_C.status == "pending", _DUE] + ([_PLATFORMS] if of_platforms else [])
    return sa_select(_C.id).where(*where).limit(1)


def anything_to_claim(session: Session, now: datetime,
                      platforms: Collection[str] | None = None) -> bool:
    """A read before any write: an idle worker never takes SQLite's write lock."""
    statement = _anything_statement(platforms is not None)
    return session.connection().execute(statement, _params(now, platforms)).first() is not None


def _params(now: datetime, platforms: Collection[str] | None, **more) -> dict:
    return {"now": now, **({} if platforms is None else {"platforms": list(platforms)}), **more}


@cache
def _claim_statement(dialect: str, limit: int, of_platforms: bool):
    earlier = _TABLE.alias("earlier")
    # "Not closed" rather than "open": a condition the status index cannot serve, so the
    # planner looks a sender's earlier rows up by (sender, id). With `IN ('pending', ...)` and
    # statistics taken before a burst (no pending rows then), PostgreSQL walked every pending
    # row for each candidate, and a claim took a second with 3,000 waiting. A claimed row of
    # the sender, earlier or not, also holds the rest back: two rows stored at the same moment
    # (one taken at the door) may be claimed in either order, never both at once.
    before = (sa_select(earlier.c.id).where(
        earlier.c.sender == _C.sender, earlier.c.status.not_in(CLOSED),
        or_(earlier.c.id < _C.id, earlier.c.status == "claimed")).exists())
    ready = (sa_select(_C.id)
             .where(_C.status == "pending", _DUE, ~before,
                    *([_PLATFORMS] if of_platforms else []))
             .order_by(_C.id).limit(limit))
    if dialect == "postgresql":
        ready = ready.with_for_update(skip_locked=True)
    identity = Identity.__table__
    known = sa_select(identity.c.id).where(
        identity.c.platform == _C.platform,
        identity.c.user_id == func.substr(_C.sender, func.length(_C.platform) + 2)).exists()
    return (update(_TABLE).where(_C.id.in_(ready.scalar_subquery()))
            .values(status="claimed", claimed_at=bindparam("now"),
                    claimed_by=bindparam("worker"), attempts=_C.attempts + 1)
            .returning(*_TABLE.c, known.label("known")))


def claim(session: Session, now: datetime, worker: str, limit: int,
          platforms: Collection[str] | None = None) -> list[Row]:
    """Mark up to `limit` rows as claimed by `worker` and return them, oldest first: each the
    oldest open row of its sender, so no two rows of one person are ever in flight. Only rows
    of `platforms` (those this process serves), when given. The rows are read-only records
    with the inbox's columns as attributes, and `known`: whether the sender ("slack:U…") is
    matched to a person already (an identity of that platform and user id), so the adapter
    need not ask."""
    connection = session.connection()
    statement = _claim_statement(connection.dialect.name, limit, platforms is not None)
    try:
        rows = list(connection.execute(statement, _params(now, platforms, worker=worker[:80])))
        session.commit()
    except IntegrityError:  # a row of one of these senders was taken at the door meanwhile
        session.rollback()
        return []
    return sorted(rows, key=lambda row: row.id)


def save_reply(session: Session, item_id: int, reply_json: str) -> None:
    """The engine's answer, written in the engine's own unit of work: a worker that dies after
    it commits leaves the answer for the next one to send, and the command is not run twice."""
    session.connection().execute(_SAVE_REPLY, {"item": item_id, "reply": reply_json})


def done(session: Session, item_id: int | Collection[int], now: datetime) -> None:
    """Answered: the text and the reply are dropped, the key stays to recognise a retry.
    Several rows answered together are marked in one statement."""
    ids = [item_id] if isinstance(item_id, int) else list(item_id)
    session.connection().execute(_DONE, {"ids": ids, "at": now})


def retry_or_park(session: Session, row: Row | InboxItem, now: datetime, reason: str,
                  max_attempts: int) -> str:
    """Try again after a pause, or park the row with its reason after `max_attempts`."""
    if row.attempts >= max_attempts:
        values = dict(_PARKED, last_error=reason[:300])
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
        .values(**_PARKED, last_error=f"claimed {max_attempts} times and never finished")
    ).rowcount or 0
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
        **_PARKED, last_error=reason[:300]))


def parked(session: Session, limit: int = 20) -> list[InboxItem]:
    """Rows that kept failing, newest first, for the operator (no body: emptied when parked)."""
    return list(session.exec(select(InboxItem).where(InboxItem.status == "parked")
                             .order_by(InboxItem.id.desc()).limit(limit)))


def counts(session: Session) -> dict[str, int]:
    rows = session.exec(select(InboxItem.status, func.count()).group_by(InboxItem.status))
    return {status: n for status, n in rows}
