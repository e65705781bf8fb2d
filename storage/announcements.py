"""Announcements, their audiences and their delivery (what the manager sees, never content
of anyone's conversations)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from storage.tables import Announcement, Delivery, Meeting, Membership, Pair, Person, Rsvp


def audience_members(session: Session, programme_id: int, audience: str, now: datetime
                     ) -> list[tuple[Person, int | None]]:
    """(person, pair id) for an audience: everyone, mentors, mentees, pair:<key>, quiet:<weeks>."""
    kind, _, arg = audience.partition(":")
    query = (select(Person, Membership.pair_id)
             .join(Membership, Membership.person_id == Person.id)
             .join(Pair, Pair.id == Membership.pair_id)
             .where(Membership.programme_id == programme_id, Membership.active, Pair.active)
             .order_by(Person.name))
    if kind in ("mentors", "mentees"):
        query = query.where(Membership.role == kind[:-1])
    elif kind == "pair":
        query = query.where(Pair.key == arg)
    elif kind == "quiet":
        since = now - timedelta(weeks=int(arg))
        recent = select(Meeting.pair_id).where(Meeting.held_at >= since)
        query = query.where(Pair.id.not_in(recent))
    elif kind != "everyone":
        raise ValueError(audience)
    seen, result = set(), []
    for person, pair_id in session.exec(query):
        if person.id not in seen:
            seen.add(person.id)
            result.append((person, pair_id))
    return result


def pair_exists(session: Session, programme_id: int, key: str) -> bool:
    return session.exec(select(Pair.id).where(Pair.programme_id == programme_id,
                                              Pair.key == key, Pair.active)).first() is not None


def partner_names(session: Session, pair_ids: set[int | None]) -> dict[int, list[tuple[int, str]]]:
    """Pair id → (person id, name) of its active members: who `{{ partner }}` names."""
    result: dict[int, list[tuple[int, str]]] = {}
    wanted = [p for p in pair_ids if p is not None]
    for start in range(0, len(wanted), 500):
        for pair_id, person_id, name in session.exec(
                select(Membership.pair_id, Person.id, Person.name)
                .join(Person, Person.id == Membership.person_id)
                .where(Membership.pair_id.in_(wanted[start:start + 500]), Membership.active)):
            result.setdefault(pair_id, []).append((person_id, name))
    return result


def addressed_to(session: Session, announcement_id: int, person_id: int) -> bool:
    """Whether this announcement was queued for this person (the outbox row its RSVP answers)."""
    return session.exec(select(Delivery.id).where(
        Delivery.key == f"announce:{announcement_id}:{person_id}")).first() is not None


def create(session: Session, **values) -> Announcement:
    announcement = Announcement(**values)
    session.add(announcement)
    session.flush()
    return announcement


def latest_draft(session: Session, author_id: int) -> Announcement | None:
    return session.exec(select(Announcement).where(Announcement.author_id == author_id,
                                                   Announcement.status == "draft")
                        .order_by(Announcement.id.desc())).first()


def get(session: Session, announcement_id: int) -> Announcement | None:
    return session.get(Announcement, announcement_id)


def recent(session: Session, programme_id: int, limit: int = 3) -> list[Announcement]:
    return list(session.exec(select(Announcement).where(
        Announcement.programme_id == programme_id, Announcement.status == "sent")
        .order_by(Announcement.id.desc()).limit(limit)))


def answer_rsvp(session: Session, announcement_id: int, person_id: int, attending: bool,
                now: datetime) -> None:
    rsvp = session.exec(select(Rsvp).where(Rsvp.announcement_id == announcement_id,
                                           Rsvp.person_id == person_id)).first()
    if rsvp is None:
        rsvp = Rsvp(announcement_id=announcement_id, person_id=person_id, attending=attending,
                    at=now)
        session.add(rsvp)
    rsvp.attending, rsvp.at = attending, now
    session.flush()


@dataclass
class DeliverySummary:
    announcement: Announcement
    recipients: int = 0
    sent: int = 0
    pending: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    attending: int = 0
    not_attending: int = 0


def summary(session: Session, announcement: Announcement) -> DeliverySummary:
    result = DeliverySummary(announcement, recipients=announcement.recipients)
    rows = session.exec(select(Delivery, Person).join(Person, Person.id == Delivery.person_id)
                        .where(Delivery.key.startswith(f"announce:{announcement.id}:")))
    for delivery, person in rows:
        if delivery.status == "sent":
            result.sent += 1
        elif delivery.status in ("pending", "claimed"):
            result.pending += 1
            if delivery.last_error.startswith("not_installed"):
                result.failed.append((person.name, "not_installed"))
        else:
            result.failed.append((person.name, delivery.last_error.split(":")[0] or delivery.status))
    counts = dict(session.exec(select(Rsvp.attending, func.count()).where(
        Rsvp.announcement_id == announcement.id).group_by(Rsvp.attending)).all())
    result.attending, result.not_attending = counts.get(True, 0), counts.get(False, 0)
    return result
