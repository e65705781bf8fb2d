"""The delivery outbox: propose, claim, settle. Claim before send, so replicas never both send.

A row is proposed under a unique key (proposing it again is a no-op), claimed by exactly one
worker in a single atomic statement, and settled as sent, retried, failed or skipped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, case, func, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, select

from storage.tables import Delivery

RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30),
                timedelta(hours=2))
CLAIM_TIMEOUT = timedelta(minutes=10)


@dataclass(frozen=True)
class Proposal:
    key: str
    person_id: int
    programme_id: int
    pair_id: int | None
    kind: str
    due_at: datetime
    stale_after: datetime
    priority: int = 5
    optional: bool = False
    payload: dict | None = None


def propose(session: Session, proposals: list[Proposal]) -> int:
    """Insert proposals whose key is new; returns how many were new."""
    if not proposals:
        return 0
    rows = [
        dict(key=p.key, person_id=p.person_id, programme_id=p.programme_id, pair_id=p.pair_id,
             kind=p.kind, due_at=p.due_at, stale_after=p.stale_after, priority=p.priority,
             optional=p.optional, payload_json=json.dumps(p.payload or {}, sort_keys=True),
             status="pending", attempts=0, claimed_by="", last_error="", platform="",
             platform_ref="", text="")
        for p in proposals
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # One executemany of a compiled-once statement ("insertmanyvalues"), not a giant VALUES.
    table = Delivery.__table__
    statement = insert(table).on_conflict_do_nothing(index_elements=["key"]).returning(table.c.id)
    return len(session.connection().execute(statement, rows).all())


def withdraw(session: Session, person_id: int, key_prefix: str, reason: str,
             keep: bool = False) -> list[dict]:
    """The payloads of this person's rows under `key_prefix` still waiting to be sent; they are
    skipped with `reason` (or only looked at, with `keep`). A row already claimed is on its
    way and counts as sent."""
    rows = list(session.exec(select(Delivery).where(
        Delivery.person_id == person_id, Delivery.key.startswith(key_prefix),
        Delivery.status == "pending")))
    if rows and not keep:
        session.execute(update(Delivery).where(Delivery.id.in_([r.id for r in rows]))
                        .values(status="skipped", last_error=reason[:300]))
    return [json.loads(r.payload_json or "{}") for r in rows]


def existing_keys(session: Session, prefix: str) -> set[str]:
    return set(session.exec(select(Delivery.key).where(Delivery.key.startswith(prefix))))


def claim_due(session: Session, now: datetime, worker: str, limit: int = 200) -> list[Delivery]:
    """Atomically mark up to `limit` due rows as claimed by `worker` and return them."""
    dialect = session.get_bind().dialect.name
    due = (
        select(Delivery.id)
        .where(Delivery.status == "pending", Delivery.due_at <= now,
               (Delivery.next_try_at.is_(None)) | (Delivery.next_try_at <= now))
        .order_by(Delivery.due_at, Delivery.id)
        .limit(limit)
    )
    if dialect == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(status="claimed", claimed_at=now, claimed_by=worker, attempt_at=None)
        .returning(Delivery)
    )
    rows = list(session.execute(statement.execution_options(synchronize_session=False)).scalars())
    session.commit()
    return rows


def preload(session: Session, rows: list[Delivery]) -> list:
    """The people, pairs, programmes and announcements a batch of rows is about, in a few
    queries (instead of one look-up per row); the caller holds the list while it works."""
    from storage.tables import Announcement, Pair, Person, Programme

    def ids(values) -> list[int]:
        return sorted({v for v in values if isinstance(v, int)})

    announced = []
    for row in rows:
        if row.kind == "announcement":
            announced.append(json.loads(row.payload_json or "{}").get("announcement_id"))
    loaded: list = []
    for table, wanted in ((Person, ids(r.person_id for r in rows)),
                          (Pair, ids(r.pair_id for r in rows)),
                          (Programme, ids(r.programme_id for r in rows)),
                          (Announcement, ids(announced))):
        for first in range(0, len(wanted), 500):
            loaded += session.exec(select(table).where(table.id.in_(wanted[first:first + 500])))
    return loaded


def identities_by_person(session: Session, person_ids: list[int]) -> dict[int, list]:
    """Each person's platform identities, most recently used first (identities_of, in bulk)."""
    from storage.tables import Identity

    found: dict[int, list] = {pid: [] for pid in person_ids}
    wanted = sorted(set(person_ids))
    for first in range(0, len(wanted), 500):
        query = (select(Identity).where(Identity.person_id.in_(wanted[first:first + 500]))
                 .order_by(Identity.updated_at.desc()))
        for identity in session.exec(query):
            found[identity.person_id].append(identity)
    return found


def pair_facts(session: Session, pair_ids: list[int]
               ) -> tuple[dict[int, list[tuple]], dict[int, int]]:
    """For these pairs, in a few queries: their active members, (person, role) with mentors
    first (people.pair_members, in bulk; people not yet in the session are loaded together),
    and how many meetings each has held."""
    from storage.tables import Meeting, Membership, Person

    wanted = sorted(set(pair_ids))
    found: dict[int, list[tuple[int, str]]] = {pid: [] for pid in wanted}
    held: dict[int, int] = dict.fromkeys(wanted, 0)
    for first in range(0, len(wanted), 500):
        chunk = wanted[first:first + 500]
        query = (select(Membership.pair_id, Person.id, Membership.role)
                 .join(Membership, Membership.person_id == Person.id)
                 .where(Membership.pair_id.in_(chunk), Membership.active)
                 .order_by(Membership.pair_id, Membership.role.desc(), Person.name))
        for pair_id, person_id, role in session.exec(query):
            found[pair_id].append((person_id, role))
        held.update(session.exec(select(Meeting.pair_id, func.count()).where(
            Meeting.pair_id.in_(chunk)).group_by(Meeting.pair_id)).all())
    everyone = {pid for members in found.values() for pid, _ in members}
    people = {pid: session.identity_map.get(identity_key(Person, pid)) for pid in everyone}
    people = {pid: person for pid, person in people.items() if person is not None}
    missing = sorted(everyone - set(people))  # most were loaded with the batch (preload)
    for first in range(0, len(missing), 500):
        people.update((p.id, p) for p in session.exec(
            select(Person).where(Person.id.in_(missing[first:first + 500]))))
    return ({pair_id: [(people[pid], role) for pid, role in members if pid in people]
             for pair_id, members in found.items()}, held)


def requeue_stuck(session: Session, now: datetime) -> int:
    """Claims left unsettled (a worker died after claiming) go back to pending. Where the dead
    worker had started to post (`attempt_at`), it may have posted before it could record so:
    the row's outcome is unknown since that moment, which counts as one ambiguous attempt (the
    next one looks first where it can). A claim it never started to post is simply pending."""
    attempted = Delivery.attempt_at.is_not(None)
    statement = (
        update(Delivery)
        .where(Delivery.status == "claimed", Delivery.claimed_at < now - CLAIM_TIMEOUT)
        .values(status="pending", claimed_by="",
                ambiguous=Delivery.ambiguous + case((attempted, 1), else_=0),
                unsure_since=case((attempted, func.coalesce(Delivery.unsure_since,
                                                            Delivery.attempt_at)),
                                  else_=Delivery.unsure_since))
    )
    return session.execute(statement).rowcount or 0


_ATTEMPT = (update(Delivery.__table__).where(Delivery.__table__.c.id == bindparam("row_id"))
            .values(attempt_at=bindparam("at")))


def mark_attempt(db, ids: list[int], now: datetime) -> None:
    """These claimed rows' posts are about to go out: committed before they do, in a
    transaction of its own on a bare connection (no session: it is one statement, compiled
    once, run for every post)."""
    if ids:
        with db.engine.begin() as connection:
            connection.execute(_ATTEMPT, [{"row_id": i, "at": now} for i in ids])


def mark_sent(session: Session, delivery_id: int, now: datetime, *, platform: str,
              platform_ref: str, text: str) -> None:
    session.execute(
        update(Delivery).where(Delivery.id == delivery_id)
        .values(status="sent", sent_at=now, platform=platform, platform_ref=platform_ref,
                text=text, attempts=Delivery.attempts + 1, last_error="")
    )


def mark_sent_many(session: Session, sent: list[dict], now: datetime) -> None:
    """Several `mark_sent`s in one statement (dicts of id, platform, platform_ref, text)."""
    if not sent:
        return
    table = Delivery.__table__
    statement = (update(table).where(table.c.id == bindparam("row_id"))
                 .values(status="sent", sent_at=now, platform=bindparam("on"),
                         platform_ref=bindparam("ref"), text=bindparam("body"),
                         attempts=table.c.attempts + 1, last_error=""))
    session.connection().execute(statement, [
        {"row_id": s["id"], "on": s["platform"], "ref": s["platform_ref"], "body": s["text"]}
        for s in sent])


def mark_retry(session: Session, row: Delivery, now: datetime, error: str,
               *, permanent: bool, unsure_since: datetime | None = None) -> str:
    """Back off and try again later, or give up after the last try; returns the new status.

    `unsure_since`: this attempt may have reached the person (its answer was lost), so the
    row stays unsure from that moment (its claim) and the ambiguous attempt is counted."""
    attempts = row.attempts + 1
    if permanent or attempts > len(RETRY_DELAYS):
        values = dict(status="failed", attempts=attempts, last_error=error[:300])
    else:
        values = dict(status="pending", attempts=attempts, last_error=error[:300],
                      next_try_at=now + RETRY_DELAYS[attempts - 1], claimed_by="")
    if unsure_since is not None:
        values.update(ambiguous=Delivery.ambiguous + 1,
                      unsure_since=func.coalesce(Delivery.unsure_since, unsure_since))
    session.execute(update(Delivery).where(Delivery.id == row.id).values(**values))
    return values["status"]


def postpone(session: Session, delivery_id: int, until: datetime, reason: str = "") -> None:
    session.execute(
        update(Delivery).where(Delivery.id == delivery_id)
        .values(status="pending", due_at=until, claimed_by="", last_error=reason[:300])
    )


def skip(session: Session, delivery_id: int, reason: str) -> None:
    session.execute(
        update(Delivery).where(Delivery.id == delivery_id)
        .values(status="skipped", last_error=reason[:300])
    )


def sent_count_since(session: Session, person_id: int, since: datetime,
                     kinds: tuple[str, ...]) -> int:
    query = select(func.count()).select_from(Delivery).where(
        Delivery.person_id == person_id, Delivery.status == "sent", Delivery.sent_at >= since,
        Delivery.kind.in_(kinds))
    return session.exec(query).one()


def latest_sent(session: Session, person_id: int, since: datetime) -> Delivery | None:
    """The newest prompt that reached this person since `since` (its kind and payload)."""
    query = (select(Delivery)
             .where(Delivery.person_id == person_id, Delivery.status == "sent",
                    Delivery.sent_at >= since)
             .order_by(Delivery.sent_at.desc(), Delivery.id.desc()).limit(1))
    return session.exec(query).first()


def unread_for(session: Session, person_id: int, platform: str) -> list[Delivery]:
    query = (select(Delivery)
             .where(Delivery.person_id == person_id, Delivery.status == "sent",
                    Delivery.platform == platform, Delivery.read_at.is_(None))
             .order_by(Delivery.sent_at, Delivery.id))
    return list(session.exec(query))


def mark_read(session: Session, ids: list[int], now: datetime) -> None:
    if ids:
        session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(read_at=now))


def ping(session: Session) -> None:
    session.execute(text("SELECT 1"))


def delivered_since(session: Session, since: datetime) -> list[dict]:
    """Rows sent at or after `since`, with their recipient, in send order (for `simulate`)."""
    from storage.tables import Membership, Person

    query = (select(Delivery, Person)
             .join(Person, Person.id == Delivery.person_id)
             .where(Delivery.sent_at >= since, Delivery.status == "sent")
             .order_by(Delivery.sent_at, Delivery.id))
    rows = []
    for delivery, person in session.exec(query):
        role = "manager"
        if delivery.pair_id is not None:
            member = session.exec(select(Membership.role).where(
                Membership.pair_id == delivery.pair_id,
                Membership.person_id == person.id)).first()
            role = member or role
        rows.append(dict(id=delivery.id, kind=delivery.kind, email=person.email, role=role,
                         lang=person.language, timezone=person.timezone,
                         sent_at=delivery.sent_at, text=delivery.text))
    return rows


def next_due_moment(session: Session) -> datetime | None:
    """The earliest moment anything is due (a pair check or a pending delivery)."""
    from storage.tables import Pair

    pair = session.exec(select(func.min(Pair.next_check_at)).where(Pair.active)).one()
    delivery = session.exec(select(func.min(func.coalesce(Delivery.next_try_at, Delivery.due_at)))
                            .where(Delivery.status == "pending")).one()
    moments = [m for m in (pair, delivery) if m is not None]
    return min(moments) if moments else None


def settled(session: Session, now: datetime) -> bool:
    """Nothing left to do at `now`: no pair due a look, no delivery due or claimed (how tests
    and benchmarks driving `serve` processes know a step of simulated time is finished)."""
    from storage.tables import Pair

    pairs = session.exec(select(func.count()).select_from(Pair).where(
        Pair.next_check_at <= now, Pair.active)).one()
    busy = session.exec(select(func.count()).select_from(Delivery).where(
        ((Delivery.status == "pending") & (Delivery.due_at <= now) &
         (Delivery.next_try_at.is_(None) | (Delivery.next_try_at <= now)))
        | (Delivery.status == "claimed"))).one()
    return pairs == 0 and busy == 0
