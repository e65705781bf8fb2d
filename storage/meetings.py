"""Meetings held, meetings booked and agendas sent (private to the pair)."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, bindparam, func, insert, literal, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from storage.tables import Agenda, Appointment, Delivery, Meeting, Pair


_MEETINGS = Meeting.__table__
_ADD_MEETING = insert(_MEETINGS).values(
    pair_id=bindparam("pair"), logged_by=bindparam("person"), held_at=bindparam("held"),
    minutes=bindparam("length"), note=bindparam("text"), created_at=bindparam("now"))
_TOUCH_PAIR = update(Pair.__table__).where(Pair.__table__.c.id == bindparam("pair")).values(
    next_check_at=bindparam("now"))
# A meeting within an hour of this one, and how many the pair has: one statement for `log`.
_NEAR_AND_COUNT = sa_select(
    sa_select(_MEETINGS.c.held_at).where(
        _MEETINGS.c.pair_id == bindparam("pair"), _MEETINGS.c.held_at >= bindparam("low"),
        _MEETINGS.c.held_at <= bindparam("high")).limit(1).scalar_subquery(),
    sa_select(func.count()).select_from(_MEETINGS).where(
        _MEETINGS.c.pair_id == bindparam("pair")).scalar_subquery())
# What `log` needs before it stores a meeting, in one statement: a meeting within an hour of
# this one, how many the pair has, and its booked meeting (the latest scheduled), if any.
_ONE_ROW = sa_select(literal(1).label("one")).subquery()
_BEFORE_LOG = (select(_NEAR_AND_COUNT.selected_columns[0].label("near"),
                      _NEAR_AND_COUNT.selected_columns[1].label("held"), Appointment)
               .select_from(_ONE_ROW)
               .outerjoin(Appointment, and_(Appointment.pair_id == bindparam("pair"),
                                            Appointment.status == "scheduled"))
               .order_by(Appointment.at.desc()).limit(1))
_NEXT_APPOINTMENT = (select(Appointment)
                     .where(Appointment.pair_id == bindparam("pair"),
                            Appointment.status == "scheduled")
                     .order_by(Appointment.at.desc()))


def add_meeting(session: Session, *, pair_id: int, person_id: int, held_at: datetime,
                minutes: int, note: str, now: datetime,
                appointment_id: int | None = None) -> None:
    """Store a meeting that took place; `appointment_id` is the booking it answers (held now,
    so no more reminders for it)."""
    session.flush()  # what the unit of work holds goes first, as an ORM write would
    session.connection().execute(_ADD_MEETING, {
        "pair": pair_id, "person": person_id, "held": held_at, "length": minutes,
        "text": note, "now": now})
    if appointment_id is not None:
        session.execute(update(Appointment)
                        .where(Appointment.id == appointment_id, Appointment.pair_id == pair_id,
                               Appointment.status == "scheduled")
                        .values(status="held", changed_at=now))
    touch_pair(session, pair_id, now)


def same_meeting(session: Session, pair_id: int, held_at: datetime) -> Meeting | None:
    """A meeting of this pair already logged within an hour of this one (double submit, or both
    partners logging the same meeting)."""
    query = select(Meeting).where(
        Meeting.pair_id == pair_id,
        Meeting.held_at >= held_at - timedelta(hours=1),
        Meeting.held_at <= held_at + timedelta(hours=1),
    )
    return session.exec(query).first()


def near_and_count(session: Session, pair_id: int,
                   held_at: datetime) -> tuple[datetime | None, int]:
    """When a meeting of this pair within an hour of `held_at` was held (see `same_meeting`),
    if any, and how many meetings the pair has logged, in one statement."""
    near, count = session.connection().execute(_NEAR_AND_COUNT, {
        "pair": pair_id, "low": held_at - timedelta(hours=1),
        "high": held_at + timedelta(hours=1)}).one()
    return near, count


def meetings_of(session: Session, pair_id: int) -> list[Meeting]:
    return list(session.exec(select(Meeting).where(Meeting.pair_id == pair_id)
                             .order_by(Meeting.held_at)))


def meeting_count(session: Session, pair_id: int) -> int:
    query = select(func.count()).select_from(Meeting).where(Meeting.pair_id == pair_id)
    return session.exec(query).one()


def last_meeting(session: Session, pair_id: int) -> Meeting | None:
    query = select(Meeting).where(Meeting.pair_id == pair_id).order_by(Meeting.held_at.desc())
    return session.exec(query).first()


def book(session: Session, *, pair_id: int, person_id: int, at: datetime,
         now: datetime) -> Appointment:
    """A new appointment with its own calendar identity (a random uid, never a bare row id)."""
    appointment = Appointment(pair_id=pair_id, at=at, booked_by=person_id, created_at=now,
                              uid=uuid.uuid4().hex, sequence=0, changed_at=now)
    session.add(appointment)
    touch_pair(session, pair_id, now)
    session.flush()
    return appointment


def move(session: Session, appointment: Appointment, at: datetime, now: datetime) -> datetime:
    """The same appointment at a new time; calendars see a newer sequence. Returns the old time."""
    before = appointment.at
    appointment.at, appointment.changed_at = at, now
    appointment.sequence += 1
    session.add(appointment)
    touch_pair(session, appointment.pair_id, now)
    session.flush()
    return before


def cancel(session: Session, appointment: Appointment, now: datetime) -> None:
    appointment.status, appointment.changed_at = "cancelled", now
    appointment.sequence += 1
    session.add(appointment)
    touch_pair(session, appointment.pair_id, now)
    session.flush()


def mark_missed(session: Session, appointment_ids: list[int], now: datetime) -> None:
    """Not held and not answered a week after: the booking lapsed."""
    if appointment_ids:
        session.execute(update(Appointment)
                        .where(Appointment.id.in_(appointment_ids),
                               Appointment.status == "scheduled")
                        .values(status="missed", changed_at=now))


def before_log(session: Session, pair_id: int,
               held_at: datetime) -> tuple[datetime | None, int, Appointment | None]:
    """`near_and_count` and `next_appointment` together, in one statement."""
    near, held, booked = session.exec(_BEFORE_LOG, params={
        "pair": pair_id, "low": held_at - timedelta(hours=1),
        "high": held_at + timedelta(hours=1)}).one()
    return near, held, booked


def next_appointment(session: Session, pair_id: int) -> Appointment | None:
    return session.exec(_NEXT_APPOINTMENT, params={"pair": pair_id}).first()


def add_agenda(session: Session, *, pair_id: int, person_id: int, text: str,
               appointment_id: int | None, now: datetime) -> Agenda:
    agenda = Agenda(pair_id=pair_id, author_id=person_id, text=text,
                    appointment_id=appointment_id, created_at=now)
    session.add(agenda)
    session.flush()
    return agenda


def agenda_for(session: Session, appointment_id: int) -> Agenda | None:
    return session.exec(select(Agenda).where(Agenda.appointment_id == appointment_id)).first()


def touch_pair(session: Session, pair_id: int, now: datetime) -> None:
    """Something changed for this pair: the next tick looks at it again (a loaded Pair keeps
    its old `next_check_at` in memory; only the ticker reads it, from the database)."""
    session.connection().execute(_TOUCH_PAIR, {"pair": pair_id, "now": now})


def appointment(session: Session, appointment_id: int) -> Appointment | None:
    return session.get(Appointment, appointment_id)


def sent_regrets(session: Session, appointment: Appointment, person_id: int) -> bool:
    """Whether this person said they can't come to this appointment at its current time (a
    group mentee's `cancel`: the relay to the mentor is the fact; a move clears it)."""
    prefix = f"regrets:{appointment.id}:{appointment.sequence}:{person_id}:"
    query = select(Delivery.id).where(Delivery.key.startswith(prefix, autoescape=True)).limit(1)
    return session.exec(query).first() is not None
