"""Store a checked programme file: create what is new, update what changed, retire what left."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, select

from storage.roster_file import ProgrammeFile
from storage.tables import Membership, Pair, Person, Programme


@dataclass
class ImportSummary:
    programme: str
    programme_created: bool = False
    programme_updated: bool = False
    created: dict[str, int] = field(default_factory=lambda: {"people": 0, "pairs": 0, "roles": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"people": 0, "pairs": 0, "roles": 0})
    retired: dict[str, int] = field(default_factory=lambda: {"pairs": 0, "roles": 0})

    @property
    def changed(self) -> bool:
        counts = [*self.created.values(), *self.updated.values(), *self.retired.values()]
        return self.programme_created or self.programme_updated or any(counts)


def apply_programme(session: Session, parsed: ProgrammeFile, now: datetime) -> ImportSummary:
    summary = ImportSummary(parsed.name)
    programme = _upsert_programme(session, parsed, summary)
    people = {row.email: _upsert_person(session, row, summary) for row in parsed.rows}
    session.flush()
    pairs = _upsert_pairs(session, programme, parsed, now, summary)
    wanted = {(people[r.email].id, r.pair): r for r in parsed.rows}
    existing = {
        (m.person_id, m.pair_key): m
        for m in session.exec(select(Membership).where(Membership.programme_id == programme.id))
    }
    for key, row in wanted.items():
        member = existing.get(key)
        pair_id = pairs[row.pair].id if row.pair else None
        if member is None:
            session.add(Membership(programme_id=programme.id, person_id=key[0], pair_id=pair_id,
                                   pair_key=row.pair, role=row.role))
            summary.created["roles"] += 1
        elif member.role != row.role or not member.active:
            member.role, member.active = row.role, True
            summary.updated["roles"] += 1
    for key, member in existing.items():
        if key not in wanted and member.active:
            member.active = False
            summary.retired["roles"] += 1
    if summary.programme_updated:
        for pair in pairs.values():
            pair.next_check_at = min(now, pair.next_check_at or now)
    session.flush()
    return summary


def _upsert_programme(session: Session, parsed: ProgrammeFile, summary: ImportSummary) -> Programme:
    values = dict(name=parsed.name, starts=parsed.starts, ends=parsed.ends,
                  cadence_weeks=parsed.cadence_weeks, language=parsed.language,
                  timezone=parsed.timezone,
                  settings_json=json.dumps(parsed.settings, sort_keys=True, default=str))
    programme = session.exec(select(Programme).where(Programme.slug == parsed.slug)).first()
    if programme is None:
        programme = Programme(slug=parsed.slug, **values)
        session.add(programme)
        session.flush()
        summary.programme_created = True
        return programme
    if any(getattr(programme, k) != v for k, v in values.items()):
        for k, v in values.items():
            setattr(programme, k, v)
        summary.programme_updated = True
    return programme


def _upsert_person(session: Session, row, summary: ImportSummary) -> Person:
    person = session.exec(select(Person).where(Person.email == row.email)).first()
    if person is None:
        person = Person(email=row.email, name=row.name, timezone=row.timezone, language=row.language)
        session.add(person)
        summary.created["people"] += 1
    elif (person.name, person.timezone, person.language) != (row.name, row.timezone, row.language):
        person.name, person.timezone, person.language = row.name, row.timezone, row.language
        summary.updated["people"] += 1
    return person


def _upsert_pairs(session: Session, programme: Programme, parsed: ProgrammeFile,
                  now: datetime, summary: ImportSummary) -> dict[str, Pair]:
    keys = {r.pair for r in parsed.rows if r.pair}
    # Due at once in any clock (a rehearsal may start before the import happened).
    check = min(now, datetime.combine(programme.starts, datetime.min.time(), now.tzinfo)) \
        - timedelta(days=1)
    started = now if now.date() > programme.starts else None
    pairs = {p.key: p for p in session.exec(select(Pair).where(Pair.programme_id == programme.id))}
    for key in keys:
        pair = pairs.get(key)
        if pair is None:
            pair = Pair(programme_id=programme.id, key=key, next_check_at=check, started_at=started)
            session.add(pair)
            pairs[key] = pair
            summary.created["pairs"] += 1
        elif not pair.active:
            pair.active, pair.next_check_at = True, check
            summary.updated["pairs"] += 1
    for key, pair in pairs.items():
        if key not in keys and pair.active:
            pair.active = False
            summary.retired["pairs"] += 1
    session.flush()
    return pairs


@dataclass(frozen=True)
class RosterState:
    """Who is in a programme, as an import preview compares it: active roles and pairs only."""

    people: dict[str, tuple[str, str, str]]  # email → (name, time zone, language)
    roles: frozenset[tuple[str, str, str]]  # (email, role, pair key)
    pairs: frozenset[str]


def roster_state(session: Session, slug: str) -> RosterState:
    programme = session.exec(select(Programme).where(Programme.slug == slug)).first()
    if programme is None:
        return RosterState({}, frozenset(), frozenset())
    rows = session.exec(select(Person, Membership.role, Membership.pair_key)
                        .join(Membership, Membership.person_id == Person.id)
                        .where(Membership.programme_id == programme.id, Membership.active))
    people, roles = {}, set()
    for person, role, pair_key in rows:
        people[person.email] = (person.name, person.timezone, person.language)
        roles.add((person.email, role, pair_key))
    pairs = session.exec(select(Pair.key).where(Pair.programme_id == programme.id, Pair.active))
    return RosterState(people, frozenset(roles), frozenset(pairs))
