"""Files on their way to a Teams user: offered, taken once, or behind a one-time link (storage layer).

A consent card carries only an offer's random id; a download link carries only a random token,
of which the database keeps the SHA-256. Taking a file deletes its row in the same statement
that checks it, so two replicas (or a retried request) can never both deliver it.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from storage.tables import FileOffer

OFFER_TIME = timedelta(hours=24)  # a consent card can be answered for a day
LINK_TIME = timedelta(hours=1)    # a download link works once, within the hour


@dataclass(frozen=True)
class File:
    name: str
    mime: str
    content: bytes


def offer_file(session: Session, person_id: int, file: File, now: datetime) -> str:
    """Keep a file for a consent card; the offer's id (all the card carries)."""
    return _store(session, person_id, file, now, OFFER_TIME, token_hash=None)


def link_file(session: Session, person_id: int, file: File, now: datetime) -> str:
    """Keep a file behind a one-time link; the link's token (the database keeps its hash)."""
    token = secrets.token_urlsafe(32)
    _store(session, person_id, file, now, LINK_TIME, token_hash=_hash(token))
    return token


def take_offer(session: Session, offer_id: str, person_id: int, now: datetime) -> File | None:
    """The offered file, removed: None when it is gone, out of time or someone else's."""
    offer = session.exec(select(FileOffer).where(
        FileOffer.id == offer_id, FileOffer.person_id == person_id,
        FileOffer.token_hash.is_(None), FileOffer.expires_at > now)).first()
    return _take(session, offer)


def take_download(session: Session, token: str, now: datetime) -> File | None:
    """The file behind a link, removed: a link works once, and not after its hour."""
    if not token or len(token) > 100:
        return None
    offer = session.exec(select(FileOffer).where(
        FileOffer.token_hash == _hash(token), FileOffer.expires_at > now)).first()
    return _take(session, offer)


def peek_download(session: Session, token: str, now: datetime) -> str | None:
    """The name of the file behind a link that still works; the link stays unused."""
    if not token or len(token) > 100:
        return None
    return session.exec(select(FileOffer.name).where(
        FileOffer.token_hash == _hash(token), FileOffer.expires_at > now)).first()


def purge_files(session: Session, now: datetime) -> int:
    """Forget every file whose time is up."""
    return session.execute(delete(FileOffer).where(FileOffer.expires_at <= now)).rowcount


def forget_files(session: Session, person_id: int) -> int:
    return session.execute(delete(FileOffer).where(FileOffer.person_id == person_id)).rowcount


def _store(session: Session, person_id: int, file: File, now: datetime, lasts: timedelta,
           token_hash: str | None) -> str:
    purge_files(session, now)
    offer = FileOffer(id=secrets.token_urlsafe(18), person_id=person_id, name=file.name[:200],
                      mime=file.mime[:100], content=file.content, created_at=now,
                      expires_at=now + lasts, token_hash=token_hash)
    session.add(offer)
    session.flush()
    return offer.id


def _take(session: Session, offer: FileOffer | None) -> File | None:
    if offer is None:
        return None
    file = File(offer.name, offer.mime, offer.content)
    taken = session.execute(delete(FileOffer).where(FileOffer.id == offer.id)).rowcount
    return file if taken == 1 else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
