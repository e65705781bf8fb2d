"""Inbound event ids already handled, so a platform's retry of one changes nothing (storage)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, insert
from sqlmodel import Session

from storage.tables import ProcessedEvent

_PROCESSED = insert(ProcessedEvent.__table__).values(key=bindparam("k"), at=bindparam("now"))


def processed(session: Session, key: str, now: datetime) -> None:
    """Record the event's key; raises `Duplicate` (an IntegrityError) when it was handled."""
    session.flush()
    session.connection().execute(_PROCESSED, {"k": key, "now": now})
