"""Meetings held, meetings booked and agendas sent (private to the pair)."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, select

from storage.tables import Agenda, Appointment, Meeting, Pair


def add_meeting(session: Session, *, pair_id: int, person_id: int, held_at: datetime,
                minutes: int, note: str, now: datetime) -> Meeting:
    meeting = Meeting(pair_id=pair_id, logged_by=person_id, held_at=held_at, minutes=minutes,
                      note=note, created_at=now)
    session.add(meeting)
    # The booked meeting this log answers is held now; no more reminders for it.
    session.execute(
        update(Appointment)
        .where(Appointment.pair_id == pair_id, Appointment.status == "scheduled",
               Appointment.at <= held_at + timedelta(days=3),
               Appointment.at >= held_at - timedelta(days=7))
        .values(status="held")
    )
    touch_pair(session, pair_id, now)
    session.flush()
    return meeting


def same_meeting(session: Session, pair_id: int, held_at: datetime) -> Meeting | None:
    """A meeting of this pair already logged within an hour of this one (double submit, or both
    partners logging the same meeting)."""
    query = select(Meeting).where(
        Meeting.pair_id == pair_id,
        Meeting.held_at >= held_at - timedelta(hours=1),
        Meeting.held_at <= held_at + timedelta(hours=1),
    )
    return session.exec(query).first()


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
    """Book the next meeting; a meeting booked before and not yet held counts as moved."""
    session.execute(
        update(Appointment)
        .where(Appointment.pair_id == pair_id, Appointment.status == "scheduled")
        .values(status="moved")
    )
    appointment = Appointment(pair_id=pair_id, at=at, booked_by=person_id, created_at=now)
    session.add(appointment)
    touch_pair(session, pair_id, now)
    session.flush()
    return appointment


def next_appointment(session: Session, pair_id: int) -> Appointment | None:
    query = (select(Appointment)
             .where(Appointment.pair_id == pair_id, Appointment.status == "scheduled")
             .order_by(Appointment.at.desc()))
    return session.exec(query).first()


def set_appointment_status(session: Session, appointment_id: int, status: str,
                           now: datetime) -> Appointment | None:
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        return None
    appointment.status = status
    touch_pair(session, appointment.pair_id, now)
    return appointment


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
    """Something changed for this pair: the next tick looks at it again."""
    session.execute(update(Pair).where(Pair.id == pair_id).values(next_check_at=now))


def appointment(session: Session, appointment_id: int) -> Appointment | None:
    return session.get(Appointment, appointment_id)
