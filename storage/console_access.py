"""Who may use the manager's web console, and what it reads (storage layer).

A sign-in link carries a random token; the database keeps only its SHA-256, so a copy of the
database opens nothing. Redeeming a link deletes its row in the same statement that checks it:
two replicas (or a double click) cannot both open a session with it. A session is a random
cookie, kept the same way, with the time it was last used; it ends after eight idle hours, at
`sign out`, and for a person who no longer manages any programme. `person_id` None is the
operator, signed in with ADMIN_TOKEN, who sees every programme.

The console's other reads (next meeting, follow-up marks) select dates and keys only: never a
note, an agenda, a reflection or an answer.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func
from sqlmodel import Session, select

from storage.tables import (
    Announcement,
    Appointment,
    ConsoleLink,
    ConsoleSession,
    Membership,
    Pair,
    Person,
    Programme,
)

LINK_TIME = timedelta(minutes=10)
IDLE = timedelta(hours=8)
SEEN_EVERY = timedelta(minutes=1)  # a session's `seen_at` is written at most this often
MAX_TOKEN = 100


@dataclass(frozen=True)
class Visitor:
    """Who is looking: a manager (person) or the operator (person None)."""

    person: Person | None
    session_hash: str = ""  # "" when signed in for this one request (a Bearer token)

    @property
    def operator(self) -> bool:
        return self.person is None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def manages_any(session: Session, person_id: int) -> bool:
    return session.exec(select(Membership.id).where(
        Membership.person_id == person_id, Membership.role == "manager",
        Membership.active)).first() is not None


def create_link(session: Session, person_id: int, now: datetime) -> str:
    """A one-time sign-in link's token (the database keeps its hash), valid ten minutes."""
    session.execute(delete(ConsoleLink).where(ConsoleLink.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(ConsoleLink(token_hash=token_hash(token), person_id=person_id, created_at=now,
                            expires_at=now + LINK_TIME))
    session.flush()
    return token


def link_works(session: Session, token: str, now: datetime) -> bool:
    """Whether the link can still be used (the link stays unused)."""
    if not _plausible(token):
        return False
    return session.exec(select(ConsoleLink.token_hash).where(
        ConsoleLink.token_hash == token_hash(token), ConsoleLink.expires_at > now)).first() \
        is not None


def redeem_link(session: Session, token: str, now: datetime) -> str | None:
    """Use a link up and open a session for its person: the session's cookie token, or None
    when the link is unknown, used, out of time, or its person manages nothing any more."""
    if not _plausible(token):
        return None
    hashed = token_hash(token)
    link = session.exec(select(ConsoleLink).where(ConsoleLink.token_hash == hashed,
                                                  ConsoleLink.expires_at > now)).first()
    if link is None:
        return None
    person_id = link.person_id
    taken = session.execute(delete(ConsoleLink).where(ConsoleLink.token_hash == hashed)).rowcount
    if taken != 1 or not manages_any(session, person_id):
        return None
    return open_session(session, person_id, now)


def open_session(session: Session, person_id: int | None, now: datetime) -> str:
    session.execute(delete(ConsoleSession).where(ConsoleSession.seen_at <= now - IDLE))
    token = secrets.token_urlsafe(32)
    session.add(ConsoleSession(token_hash=token_hash(token), person_id=person_id, created_at=now,
                               seen_at=now))
    session.flush()
    return token


def visitor_of(session: Session, token: str, now: datetime) -> Visitor | None:
    """The signed-in visitor behind a session cookie, its idle time renewed; None when the
    session is unknown, idle for eight hours, or its person manages no programme any more
    (then every session of theirs ends)."""
    if not _plausible(token):
        return None
    hashed = token_hash(token)
    row = session.get(ConsoleSession, hashed)
    if row is None:
        return None
    if row.seen_at <= now - IDLE:
        session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == hashed))
        return None
    person = None
    if row.person_id is not None:
        if not manages_any(session, row.person_id):
            end_sessions_of(session, row.person_id)
            return None
        person = session.get(Person, row.person_id)
    if now - row.seen_at >= SEEN_EVERY:
        row.seen_at = now
        session.add(row)
    return Visitor(person, hashed)


def end_session(session: Session, hashed: str) -> None:
    session.execute(delete(ConsoleSession).where(ConsoleSession.token_hash == hashed))


def end_sessions_of(session: Session, person_id: int) -> int:
    """Sign a person out everywhere (and drop their unused links)."""
    session.execute(delete(ConsoleLink).where(ConsoleLink.person_id == person_id))
    return session.execute(delete(ConsoleSession).where(
        ConsoleSession.person_id == person_id)).rowcount


def end_sessions_of_former_managers(session: Session) -> int:
    """After a roster change: every session of a person who manages nothing any more ends."""
    managers = select(Membership.person_id).where(Membership.role == "manager",
                                                  Membership.active)
    session.execute(delete(ConsoleLink).where(ConsoleLink.person_id.not_in(managers)))
    return session.execute(delete(ConsoleSession).where(
        ConsoleSession.person_id.is_not(None),
        ConsoleSession.person_id.not_in(managers))).rowcount


def visible_programmes(session: Session, visitor: Visitor) -> list[Programme]:
    """The programmes this visitor may see: those they manage now; every one for the operator."""
    query = select(Programme).order_by(Programme.starts.desc(), Programme.slug)
    if not visitor.operator:
        query = query.where(Programme.id.in_(select(Membership.programme_id).where(
            Membership.person_id == visitor.person.id, Membership.role == "manager",
            Membership.active)))
    return list(session.exec(query))


def visible_programme(session: Session, visitor: Visitor, slug: str) -> Programme | None:
    """The programme by its slug if this visitor may see it; None whether it is unknown or
    someone else's (the console does not tell which)."""
    return next((p for p in visible_programmes(session, visitor) if p.slug == slug), None)


def next_meetings(session: Session, programme_id: int, now: datetime) -> dict[str, datetime]:
    """Each pair's next booked meeting (its key → when), dates only."""
    query = (select(Pair.key, func.min(Appointment.at))
             .join(Appointment, Appointment.pair_id == Pair.id)
             .where(Pair.programme_id == programme_id, Appointment.status == "scheduled",
                    Appointment.at >= now)
             .group_by(Pair.key))
    return {key: _aware(at) for key, at in session.exec(query)}


def follow_ups(session: Session, programme_id: int) -> dict[str, datetime | None]:
    """Each active pair's key → when the manager marked it followed up (None: not yet)."""
    query = select(Pair.key, Pair.followed_up_at).where(Pair.programme_id == programme_id,
                                                       Pair.active)
    return {key: _aware(at) for key, at in session.exec(query)}


def announcements_of(session: Session, programme_id: int, limit: int = 20) -> list[Announcement]:
    """The programme's announcements, newest first, drafts of abandoned previews left out."""
    return list(session.exec(select(Announcement).where(
        Announcement.programme_id == programme_id, Announcement.status != "draft")
        .order_by(Announcement.id.desc()).limit(limit)))


def cancel_waiting(session: Session, announcement: Announcement, now: datetime) -> bool:
    """Stop an announcement before it goes out: a draft, or one whose sending time has not come
    (its queued messages are then skipped when they fall due). False when it is too late."""
    if announcement.status == "draft" or (announcement.status == "sent"
                                           and _aware(announcement.send_at) > now):
        announcement.status = "cancelled"
        session.add(announcement)
        return True
    return False


def programme_roles(session: Session, programme_id: int) -> dict[int, str]:
    """Person id → their role in the programme's pairs (mentor or mentee)."""
    rows = session.exec(select(Membership.person_id, Membership.role).where(
        Membership.programme_id == programme_id, Membership.active,
        Membership.role.in_(("mentor", "mentee"))))
    return {person_id: role for person_id, role in rows}


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _plausible(token: str) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN and token.isascii()
