"""What the timeline needs to know about pairs, loaded in bulk for all pairs due a look.

A handful of IN-queries per tick, whatever the number of pairs, so the tick's cost follows the
pairs that are due, not the size of the programme.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import update
from sqlmodel import Session, select

from storage.tables import Agenda, Answer, Appointment, Meeting, Membership, Pair, Person, Programme


class Booking(NamedTuple):
    """The pair's booked meeting: its id, when, when it was booked or last moved, its sequence."""

    id: int
    at: datetime
    booked: datetime
    sequence: int = 0


@dataclass(frozen=True)
class MemberFact:
    person_id: int
    role: str
    timezone: str


@dataclass
class PairFacts:
    pair_id: int
    key: str
    programme: Programme
    started_at: datetime | None
    members: list[MemberFact] = field(default_factory=list)
    managers: list[int] = field(default_factory=list)
    meetings: list[tuple[int, datetime, datetime]] = field(default_factory=list)  # id, held, logged
    appointment: Booking | None = None
    agenda_sent: bool = False
    ratings: list[tuple[int, int]] = field(default_factory=list)  # (answer id, rating)
    pulse: dict[int, list[int]] = field(default_factory=dict)
    evaluation_done: set[int] = field(default_factory=set)
    evaluation_started: set[int] = field(default_factory=set)


def claim_pairs_due(session: Session, now: datetime, limit: int,
                    lease: timedelta = timedelta(minutes=2)) -> list[int]:
    """Take up to `limit` pairs whose check time has come, leasing them so that another
    replica ticking at the same moment takes different pairs (or none)."""
    due = (select(Pair.id).where(Pair.next_check_at <= now, Pair.active)
           .order_by(Pair.next_check_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    statement = (update(Pair).where(Pair.id.in_(due.scalar_subquery()))
                 .values(next_check_at=now + lease).returning(Pair.id))
    ids = list(session.execute(statement.execution_options(synchronize_session=False)).scalars())
    session.commit()
    return sorted(ids)


def set_next_checks(session: Session, checks: dict[int, datetime | None]) -> None:
    """One bulk update by primary key (executemany), not a round trip per pair."""
    if checks:
        session.execute(update(Pair), [{"id": pair_id, "next_check_at": moment}
                                       for pair_id, moment in checks.items()])


def load(session: Session, pair_ids: list[int]) -> list[PairFacts]:
    if not pair_ids:
        return []
    pairs = list(session.exec(select(Pair).where(Pair.id.in_(pair_ids))))
    programme_ids = {p.programme_id for p in pairs}
    programmes = {p.id: p for p in session.exec(select(Programme)
                                                .where(Programme.id.in_(programme_ids)))}
    facts = {p.id: PairFacts(p.id, p.key, programmes[p.programme_id], p.started_at)
             for p in pairs}
    managers: dict[int, list[int]] = defaultdict(list)
    for person_id, programme_id in session.exec(
            select(Membership.person_id, Membership.programme_id)
            .where(Membership.programme_id.in_(programme_ids), Membership.role == "manager",
                   Membership.active)):
        managers[programme_id].append(person_id)
    for fact in facts.values():
        fact.managers = managers[fact.programme.id]
    for pair_id, person_id, role, zone in session.exec(
            select(Membership.pair_id, Membership.person_id, Membership.role, Person.timezone)
            .join(Person, Person.id == Membership.person_id)
            .where(Membership.pair_id.in_(pair_ids), Membership.active)
            .order_by(Membership.pair_id, Membership.person_id)):
        facts[pair_id].members.append(MemberFact(person_id, role, zone))
    for meeting in session.exec(select(Meeting.pair_id, Meeting.id, Meeting.held_at,
                                       Meeting.created_at)
                                .where(Meeting.pair_id.in_(pair_ids)).order_by(Meeting.held_at)):
        facts[meeting[0]].meetings.append((meeting[1], meeting[2], meeting[3]))
    for pair_id, appointment_id, at, created, changed, sequence in session.exec(
            select(Appointment.pair_id, Appointment.id, Appointment.at, Appointment.created_at,
                   Appointment.changed_at, Appointment.sequence)
            .where(Appointment.pair_id.in_(pair_ids), Appointment.status == "scheduled")
            .order_by(Appointment.at)):
        facts[pair_id].appointment = Booking(appointment_id, at, changed or created, sequence)
    booked = [f.appointment[0] for f in facts.values() if f.appointment]
    if booked:
        with_agenda = set(session.exec(select(Agenda.appointment_id)
                                       .where(Agenda.appointment_id.in_(booked))))
        for fact in facts.values():
            fact.agenda_sent = bool(fact.appointment and fact.appointment[0] in with_agenda)
    for answer in session.exec(
            select(Answer.pair_id, Answer.id, Answer.person_id, Answer.form, Answer.question,
                   Answer.rating)
            .where(Answer.pair_id.in_(pair_ids)).order_by(Answer.created_at, Answer.id)):
        pair_id, answer_id, person_id, form, question, rating = answer
        fact = facts[pair_id]
        if form.startswith("reflection:") and question == "rating" and rating:
            fact.ratings.append((answer_id, rating))
        elif form.startswith("pulse:") and rating:
            fact.pulse.setdefault(int(form.split(":")[1]), []).append(rating)
        elif form == "evaluation":
            fact.evaluation_started.add(person_id)
            if question == "after":
                fact.evaluation_done.add(person_id)
    return [facts[i] for i in pair_ids if i in facts]
