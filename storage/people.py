"""Who is who: people, their platform identities and their roles in programmes and pairs."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert
from sqlmodel import Session, select

from storage.emails import normal_email
from storage.tables import Identity, Membership, Pair, Person, Programme


@dataclass(frozen=True)
class Role:
    """One active role of a person: a mentor or mentee in a pair, or a programme's manager."""

    membership: Membership
    programme: Programme
    pair: Pair | None

    @property
    def name(self) -> str:
        return self.membership.role


_BY_EMAIL = select(Person).where(Person.email == bindparam("email"))


def person_by_email(session: Session, email: str) -> Person | None:
    return session.exec(_BY_EMAIL, params={"email": normal_email(email)}).first()


_IDENTITY = select(Identity).where(Identity.platform == bindparam("platform"),
                                   Identity.user_id == bindparam("user"))
_PERSON_AND_IDENTITY = (select(Person, Identity).join(Identity, Identity.person_id == Person.id)
                        .where(Identity.platform == bindparam("platform"),
                               Identity.user_id == bindparam("user")))
_UNREAD = object()
_ADD_IDENTITY = insert(Identity.__table__).returning(Identity.__table__.c.id)


def person_by_identity(session: Session, platform: str, user_id: str) -> Person | None:
    return person_and_identity(session, platform, user_id)[0]


def person_and_identity(session: Session, platform: str,
                        user_id: str) -> tuple[Person | None, Identity | None]:
    """The person behind a platform identity, and that identity, in one statement."""
    row = session.exec(_PERSON_AND_IDENTITY,
                       params={"platform": platform, "user": user_id}).first()
    return (row[0], row[1]) if row is not None else (None, None)


@dataclass(frozen=True)
class Speaker:
    """Who wrote: the person behind a platform identity, that identity and their roles."""

    person: Person
    identity: Identity | None  # None: found by email, their first word on this platform
    roles: list[Role]


_SPEAKER = (select(Person, Identity, Membership, Programme, Pair)
            .join(Identity, Identity.person_id == Person.id)
            .outerjoin(Membership, (Membership.person_id == Person.id) & Membership.active)
            .outerjoin(Programme, Programme.id == Membership.programme_id)
            .outerjoin(Pair, Pair.id == Membership.pair_id)
            .where(Identity.platform == bindparam("platform"),
                   Identity.user_id == bindparam("user"))
            .order_by(Programme.starts, Membership.pair_key))


def speaker(session: Session, platform: str, user_id: str) -> Speaker | None:
    """`person_and_identity` and `roles_of` together, in one statement (every chat turn)."""
    rows = session.exec(_SPEAKER, params={"platform": platform, "user": user_id}).all()
    if not rows:
        return None
    return Speaker(rows[0][0], rows[0][1], [
        Role(membership, programme, pair) for _, _, membership, programme, pair in rows
        if membership is not None and (pair is None or pair.active)])


def remember_identity(session: Session, person: Person, *, platform: str, user_id: str,
                      now: datetime, tenant_id: str = "", conversation_id: str = "",
                      service_url: str = "", identity: Identity | None | object = _UNREAD,
                      ) -> Identity:
    """Create or refresh how to reach this person on a platform (on every inbound event).
    `identity`: the row of (platform, user_id) when the caller has read it already (None:
    there is none)."""
    if identity is _UNREAD:
        identity = session.exec(_IDENTITY, params={"platform": platform, "user": user_id}).first()
    fresh = dict(person_id=person.id, tenant_id=tenant_id, conversation_id=conversation_id,
                 service_url=service_url)
    if identity is None:
        session.flush()
        values = dict(platform=platform, user_id=user_id, updated_at=now, **fresh)
        new_id = session.connection().execute(_ADD_IDENTITY, values).scalar_one()
        return Identity(id=new_id, **values)  # as stored (not held by the session)
    changed = {k: v for k, v in fresh.items() if v and getattr(identity, k) != v}
    if changed or now - identity.updated_at > timedelta(days=1):
        for key, value in changed.items():
            setattr(identity, key, value)
        identity.updated_at = now
        session.flush()
    return identity


def identities_of(session: Session, person_id: int) -> list[Identity]:
    query = select(Identity).where(Identity.person_id == person_id).order_by(Identity.updated_at.desc())
    return list(session.exec(query))


_ROLES = (
    select(Membership, Programme, Pair)
    .join(Programme, Programme.id == Membership.programme_id)
    .join(Pair, Pair.id == Membership.pair_id, isouter=True)
    .where(Membership.person_id == bindparam("person"), Membership.active)
    .order_by(Programme.starts, Membership.pair_key)
)


def roles_of(session: Session, person_id: int) -> list[Role]:
    return [Role(m, prog, pair) for m, prog, pair in session.exec(_ROLES,
                                                                  params={"person": person_id})
            if pair is None or pair.active]


def pair_members(session: Session, pair_id: int) -> list[tuple[Person, str]]:
    """The active people of a pair with their role, mentors first."""
    query = (
        select(Person, Membership.role)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.pair_id == pair_id, Membership.active)
        .order_by(Membership.role.desc(), Person.name)
    )
    return [(person, role) for person, role in session.exec(query)]


def programme_managers(session: Session, programme_id: int) -> list[Person]:
    query = (
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.programme_id == programme_id, Membership.role == "manager",
               Membership.active)
    )
    return list(session.exec(query))


def manages(session: Session, person_id: int, programme_id: int) -> bool:
    """Whether the person is (still) one of the programme's active managers."""
    query = select(Membership.id).where(Membership.person_id == person_id,
                                        Membership.programme_id == programme_id,
                                        Membership.role == "manager", Membership.active)
    return session.exec(query).first() is not None


def membership_in_pair(session: Session, person_id: int, pair_id: int) -> Membership | None:
    """The person's active membership of an active pair, or None if they left it."""
    query = (select(Membership).join(Pair, Pair.id == Membership.pair_id)
             .where(Membership.pair_id == pair_id, Membership.person_id == person_id,
                    Membership.active, Pair.active))
    return session.exec(query).first()
