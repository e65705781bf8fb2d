"""`app.py import`: check a programme file, store it in one transaction, report what changed."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlmodel import select

from conversations.texts import Texts, strip_markers
from storage.db import Database
from storage.roster import apply_programme
from storage.roster_file import read_programme
from storage.tables import Programme


def import_file(db: Database, path: Path, now: datetime, texts: Texts, out: TextIO,
                lang: str = "en") -> int:
    """0 when imported (or nothing changed), 1 when the file was rejected and nothing stored."""
    parsed = read_programme(path)
    if parsed.problems:
        print(_plain(texts.render(lang, "cli/import_problems", file=path.name,
                                  problems=parsed.problems)), file=out)
        return 1
    with db.unit() as session:
        summary = apply_programme(session, parsed, now)
    print(_plain(texts.render(lang, "cli/import_report", summary=summary,
                              warnings=parsed.warnings)), file=out)
    return 0


def has_programmes(db: Database) -> bool:
    with db.unit() as session:
        return session.exec(select(Programme.id).limit(1)).first() is not None


def _plain(text: str) -> str:
    return strip_markers(text)
