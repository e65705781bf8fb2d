"""What programme managers steer with: programmes in progress, pairs to follow up."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from storage.tables import Membership, Pair, Programme


def programmes_for_followup(session: Session, now: datetime) -> list[tuple[Programme, list[int]]]:
    today = now.date()
    programmes = session.exec(select(Programme).where(
        Programme.starts <= today, Programme.ends >= today - timedelta(days=1)))
    result = []
    for programme in programmes:
        managers = list(session.exec(select(Membership.person_id).where(
            Membership.programme_id == programme.id, Membership.role == "manager",
            Membership.active)))
        if managers:
            result.append((programme, managers))
    return result


def pairs_not_followed_up(session: Session, programme_id: int) -> list[str]:
    return list(session.exec(select(Pair.key).where(
        Pair.programme_id == programme_id, Pair.active, Pair.followed_up_at.is_(None))
        .order_by(Pair.key)))


def mark_followed_up(session: Session, programme_id: int, key: str, now: datetime) -> bool:
    pair = session.exec(select(Pair).where(Pair.programme_id == programme_id,
                                           Pair.key == key)).first()
    if pair is None:
        return False
    pair.followed_up_at = now
    session.add(pair)
    return True
