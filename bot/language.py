"""The language a person reads, for the lines an adapter adds itself (a hint, a file notice)."""
from __future__ import annotations

import asyncio

from conversations.texts import LANGUAGES
from storage.tables import Person


async def language_of(db, person_id: int | None) -> str:
    """Their roster language, or English for someone we do not know."""
    def read() -> str:
        if person_id is None:
            return "en"
        with db.unit() as session:
            person = session.get(Person, person_id)
            return person.language if person and person.language in LANGUAGES else "en"
    return await asyncio.to_thread(read)
